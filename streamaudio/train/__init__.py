"""The consumer of the corpus: a paired streaming trainer (dual loss, four stages), the one
streaming decode loop, and evaluation. Heavy imports (torch, transformers) live in the
submodules, so `import streamaudio` stays light."""

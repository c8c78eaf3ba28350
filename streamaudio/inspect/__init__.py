"""Views of a built corpus, shared by notebooks/inspect_corpus.ipynb and
`streamaudio report`: numbers in `data`, matplotlib figures in `figures`, HTML
tables in `tables`, the static page in `report`. Import the submodules you need
(matplotlib loads only with `figures`)."""

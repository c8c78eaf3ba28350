"""`python -m streamaudio`: the same command line as `streamaudio`."""

from streamaudio.cli import main

if __name__ == "__main__":
    main()

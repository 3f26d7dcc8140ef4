from liaison.cli import main

# Guarded: a spawned child process (the import reader) imports the main module again.
if __name__ == "__main__":
    raise SystemExit(main())

from statecap.cli import main

main()

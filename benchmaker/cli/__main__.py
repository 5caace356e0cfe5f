from benchmaker.cli import main

main()

from couchctl.cli import main

main()

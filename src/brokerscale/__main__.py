from brokerscale.cli import main

main()

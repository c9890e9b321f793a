import gc

gc.disable()  # the start-up imports make only long-lived objects: no collector passes over them (see cli.main)
from brokerscale.cli import console_main  # noqa: E402

gc.enable()
console_main()

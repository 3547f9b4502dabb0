from smx.cli.main import run

run()

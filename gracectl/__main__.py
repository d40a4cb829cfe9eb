from gracectl.cli.main import run

run()

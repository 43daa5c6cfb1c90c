from reelstream_client.cli.main import run

run()

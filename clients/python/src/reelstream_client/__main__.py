from reelstream_client.cli import run

run()

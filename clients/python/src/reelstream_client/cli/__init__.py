"""The `reelstream` command, on the SDK (`pip install 'reelstream-client[cli]'`)."""

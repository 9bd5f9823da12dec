"""What a contact point's own client does, for the tests and the fuzz harness: the gpg command line (gpg_cli) and
messages shaped like mutt's and Thunderbird's (mail), signed and encrypted by it."""

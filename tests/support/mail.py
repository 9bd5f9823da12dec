"""The tests' messages shaped like mutt/Thunderbird output: hub/tools/client/mail.py (the fuzz harness uses
them too), signed and encrypted with the gpg command line."""

from hub.tools.client.mail import (ciphertext_mail, encrypted_mail, inline_signed_mail, plain_entity,
                                   signed_entity_mail, signed_mail, unsigned_mail)

__all__ = ["ciphertext_mail", "encrypted_mail", "inline_signed_mail", "plain_entity", "signed_entity_mail",
           "signed_mail", "unsigned_mail"]

"""The shared core: pseudonyms, encryption and key rings, disclosure control, vocabulary, errors
and log redaction. It imports no app of ours (a test checks), so every app may import it."""

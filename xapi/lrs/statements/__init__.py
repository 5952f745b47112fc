"""The Statements resource of the built-in LRS: validation, storage, queries, formats, attachments, signatures."""

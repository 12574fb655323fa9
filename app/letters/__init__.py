"""Letters by post: print-and-post batches (merged PDF + manifest to a folder or a print vendor's SFTP drop),
address blocks in the destination country's format, returned-mail imports and letter costs."""

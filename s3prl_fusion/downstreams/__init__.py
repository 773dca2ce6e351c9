"""Task experts that s3prl lacks, written in s3prl's downstream expert contract."""

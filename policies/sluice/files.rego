# File uploads (files.upload). The gateway streams the file to disk and passes its facts as
# input.upload {filename, media_type, size_bytes, sha256, text, scanned}; the entities of a text
# upload are counted in input.request.findings like a prompt's, and masked per the masking rules.
package sluice

# The largest upload of any of the caller's groups (`max_upload_bytes`); the gateway answers 413
# above it. A caller none of whose groups sets one is bounded by files.maxUploadBytes alone.
upload_limits := {"max_upload_bytes": max(caps)} if {
	caps := {n | some group in caller_groups; n := data.sluice.groups[group].max_upload_bytes}
	count(caps) > 0
}

else := {}

# Text no one read cannot be judged: a text upload too large to scan, or not UTF-8, is refused.
violations contains {"check": "upload", "reason": $"{input.upload.filename} is text Sluice could not inspect (larger than files.maxScanBytes, or not UTF-8)"} if {
	input.request.operation == "files.upload"
	input.upload.text == true
	input.upload.scanned == false
}

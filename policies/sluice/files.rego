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

# Downloads (files.download) are judged on the file's ownership record (input.resource): media
# types matching data.sluice.files.download.blocked_media_types (exact or prefix*), and files
# larger than data.sluice.files.download.max_bytes when set, are refused.
violations contains {"check": "download", "reason": $"files of type {input.resource.media_type} may not be downloaded"} if {
	input.request.operation == "files.download"
	some pattern in data.sluice.files.download.blocked_media_types
	pattern_matches(pattern, input.resource.media_type)
}

violations contains {"check": "download", "reason": $"the file is larger than the download limit of {data.sluice.files.download.max_bytes} bytes"} if {
	input.request.operation == "files.download"
	is_number(input.resource.size_bytes)
	input.resource.size_bytes > data.sluice.files.download.max_bytes
}

package sluice_test

import data.sluice

file_call(groups, operation, owner) := object.union(request_by(groups, {"operation": operation, "model": null, "max_tokens": null}), {"resource": {
	"type": "file", "id": "file_1", "owner": owner, "owner_groups": ["engineering"],
	"created_at": "2025-01-01T00:00:00Z", "size_bytes": 12, "media_type": "text/plain",
}})

test_the_owner_may_use_their_file if {
	every op in ["files.get", "files.download", "files.delete"] {
		d := sluice.decision with input as file_call(["engineering"], op, "alice")
		d.allow == true
		d.limits == {}
	}
}

test_another_subjects_file_is_not_found if {
	d := sluice.decision with input as file_call(["engineering"], "files.get", "bob")
	d.allow == false
	d.not_found == true
	d.reasons == ["file file_1 belongs to another subject"]
	d.labels.checks == ["ownership"]
}

test_an_unknown_file_is_not_found if {
	d := sluice.decision with input as file_call(["engineering"], "files.download", null)
	d.not_found == true
	d.reasons == ["file file_1 has no recorded owner"]
}

test_unknown_files_may_be_allowed_for_migrations if {
	d := sluice.decision with input as file_call(["engineering"], "files.get", null) with data.sluice.ownership.unknown_objects as "allow"
	d.allow == true
}

test_sharing_within_a_listed_group if {
	d := sluice.decision with input as file_call(["engineering"], "files.get", "bob") with data.sluice.ownership.shared_groups as ["engineering"]
	d.allow == true
	d2 := sluice.decision with input as file_call(["admins"], "files.get", "bob") with data.sluice.ownership.shared_groups as ["engineering"]
	d2.not_found == true
}

test_other_refusals_are_not_hidden if {
	d := sluice.decision with input as request_by(["ci"], {"operation": "files.list", "model": null, "max_tokens": null})
	d.allow == false
	d.not_found == false
	d.reasons == [`operation "files.list" is not allowed for your groups (ci)`]
}

test_listing_needs_no_resource if {
	d := sluice.decision with input as request_by(["engineering"], {"operation": "files.list", "model": null, "max_tokens": null})
	d.allow == true
}

upload_call(groups, upload) := object.union(request_by(groups, {"operation": "files.upload", "model": null, "max_tokens": null}), {"upload": object.union(
	{"filename": "notes.txt", "media_type": "text/plain", "size_bytes": 12, "sha256": "ab", "text": true, "scanned": true},
	upload,
)})

test_an_upload_carries_the_groups_size_limit if {
	d := sluice.decision with input as upload_call(["engineering", "ci"], {})
	d.allow == true
	d.limits == {"max_upload_bytes": 268435456}
	d2 := sluice.decision with input as upload_call(["admins"], {})
	d2.limits == {}
}

test_text_no_one_read_is_refused if {
	d := sluice.decision with input as upload_call(["engineering"], {"scanned": false})
	d.allow == false
	d.not_found == false
	d.reasons == ["notes.txt is text Sluice could not inspect (larger than files.maxScanBytes, or not UTF-8)"]
	d2 := sluice.decision with input as upload_call(["engineering"], {"media_type": "application/pdf", "text": false, "scanned": false})
	d2.allow == true
}

test_an_uploads_entities_are_masked_by_the_callers_rules if {
	i := object.union(upload_call(["engineering"], {}), {"request": {"findings": {"EMAIL": 1}}})
	d := sluice.decision with input as i
	d.allow == true
	"EMAIL" in d.mask.request
}

test_an_upload_with_a_private_key_is_refused if {
	i := object.union(upload_call(["engineering"], {}), {"request": {"findings": {"PRIVATE_KEY": 1}}})
	d := sluice.decision with input as i
	d.allow == false
}

test_downloads_refused_by_media_type_or_size if {
	i := file_call(["engineering"], "files.download", "alice")
	d := sluice.decision with input as i with data.sluice.files.download.blocked_media_types as ["text/*"]
	d.allow == false
	d.not_found == false
	d.reasons == ["files of type text/plain may not be downloaded"]
	d2 := sluice.decision with input as i with data.sluice.files.download.max_bytes as 10
	d2.reasons == ["the file is larger than the download limit of 10 bytes"]
	d3 := sluice.decision with input as i with data.sluice.files.download.max_bytes as 12
	d3.allow == true
}

ref(owner, groups) := {"type": "file", "id": "file_x", "owner": owner, "owner_groups": groups, "created_at": null, "size_bytes": null, "media_type": null}

test_a_message_may_reference_only_its_callers_objects if {
	mine := object.union(request_by(["engineering"], {}), {"references": [ref("alice", ["engineering"])]})
	sluice.decision.allow with input as mine
	theirs := object.union(request_by(["engineering"], {}), {"references": [ref("bob", ["engineering"])]})
	d := sluice.decision with input as theirs
	d.allow == false
	d.not_found == true
	d.reasons == ["file file_x belongs to another subject"]
}

test_a_referenced_object_may_be_shared_through_a_group if {
	theirs := object.union(request_by(["engineering"], {}), {"references": [ref("bob", ["engineering"])]})
	sluice.decision.allow with input as theirs with data.sluice.ownership.shared_groups as ["engineering"]
}

test_an_unrecorded_reference_is_refused_unless_allowed if {
	unknown := object.union(request_by(["engineering"], {}), {"references": [ref(null, [])]})
	d := sluice.decision with input as unknown
	d.not_found == true
	sluice.decision.allow with input as unknown with data.sluice.ownership.unknown_objects as "allow"
}

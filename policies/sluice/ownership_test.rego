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

# Object ownership. The upstream sees one organisation key for everyone, so the gateway records who
# created each file through Sluice and puts that record in input.resource ({type, id, owner,
# owner_groups, created_at, size_bytes, media_type}; owner null when it has none) for a call naming
# an object by id. Only the owner may use an object, unless data.sluice.ownership.shared_groups
# names a group both the caller and the owner (when it was created) belong to. Refusals here carry
# the check "ownership", which makes the decision a not_found (decision.rego): the caller gets the
# 404 a missing object gets, so a refusal does not reveal that another subject's object exists.
package sluice

# Without the data, unknown objects are refused and nothing is shared.
unknown_objects_allowed if data.sluice.ownership.unknown_objects == "allow"

violations contains {"check": "ownership", "reason": $"{input.resource.type} {input.resource.id} has no recorded owner"} if {
	input.resource.owner == null
	not unknown_objects_allowed
}

violations contains {"check": "ownership", "reason": $"{input.resource.type} {input.resource.id} belongs to another subject"} if {
	is_string(input.resource.owner)
	input.resource.owner != input.identity.sub
	not shared_with_caller
}

# A group in shared_groups that the caller is in now and the owner was in when creating the object.
shared_with_caller if {
	some group in data.sluice.ownership.shared_groups
	group in input.identity.groups
	group in input.resource.owner_groups
}

# The objects a Messages request refers to by id (input.references: files in document, image and
# container_upload blocks, the container it continues, custom skills it loads) follow the same
# rule: the caller's own, or shared through a group, or (for migrations) unknown when allowed.
violations contains {"check": "ownership", "reason": $"{ref.type} {ref.id} has no recorded owner"} if {
	some ref in input.references
	not is_string(ref.owner)
	not unknown_objects_allowed
}

violations contains {"check": "ownership", "reason": $"{ref.type} {ref.id} belongs to another subject"} if {
	some ref in input.references
	is_string(ref.owner)
	ref.owner != input.identity.sub
	not reference_shared_with_caller(ref)
}

reference_shared_with_caller(ref) if {
	some group in data.sluice.ownership.shared_groups
	group in input.identity.groups
	group in ref.owner_groups
}

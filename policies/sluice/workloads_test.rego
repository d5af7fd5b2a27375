package sluice_test

import data.sluice

github := {
	"iss": "https://token.actions.githubusercontent.com",
	"claims": {"repository": "acme/app", "environment": "prod", "ref": "refs/tags/v1.4.0"},
}

test_github_actions_job_matches_repository_and_environment if {
	sluice.github_actions_job("acme/app", "prod") with input.identity as github
	not sluice.github_actions_job("acme/app", "staging") with input.identity as github
	not sluice.github_actions_job("acme/other", "prod") with input.identity as github
}

test_github_actions_job_needs_the_github_issuer if {
	not sluice.github_actions_job("acme/app", "prod") with input.identity as object.union(github, {"iss": "https://evil.example"})
}

test_github_actions_ref_matches_a_glob if {
	sluice.github_actions_ref("acme/app", "refs/tags/v*") with input.identity as github
	not sluice.github_actions_ref("acme/app", "refs/heads/main") with input.identity as github
}

test_github_helpers_fail_closed_without_the_claims if {
	bare := {"iss": github.iss, "claims": {}}
	not sluice.github_actions_job("acme/app", "prod") with input.identity as bare
	not sluice.github_actions_ref("acme/app", "refs/tags/v*") with input.identity as bare
}

test_gitlab_ci_job_needs_a_protected_ref if {
	job := {"iss": "https://gitlab.com", "claims": {"project_path": "acme/app", "ref": "main", "ref_protected": "true"}}
	sluice.gitlab_ci_job("acme/app", "main") with input.identity as job
	unprotected := {"iss": job.iss, "claims": object.union(job.claims, {"ref_protected": "false"})}
	not sluice.gitlab_ci_job("acme/app", "main") with input.identity as unprotected
}

test_kubernetes_service_account_matches_namespace_and_name if {
	sa := {"iss": "https://kubernetes.default.svc", "claims": {
		"kubernetes.io.namespace": "payments",
		"kubernetes.io.serviceaccount.name": "summarizer",
	}}
	sluice.kubernetes_service_account("payments", "summarizer") with input.identity as sa
	not sluice.kubernetes_service_account("payments", "other") with input.identity as sa
	not sluice.kubernetes_service_account("default", "summarizer") with input.identity as sa
}

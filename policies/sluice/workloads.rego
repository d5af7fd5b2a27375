# Helpers for rules about workload identities: CI jobs and Kubernetes service accounts. They read
# the claims an issuer passes to the policy (identity.issuers[].claims in the Sluice config), so
# list there the claims a helper needs; a claim not passed makes the helper false (fail closed).
package sluice

# A GitHub Actions job of `repository` ("owner/name") deploying to `environment`. Needs the claims
# repository and environment (issuer https://token.actions.githubusercontent.com).
github_actions_job(repository, environment) if {
	startswith(input.identity.iss, "https://token.actions.githubusercontent.com")
	input.identity.claims.repository == repository
	input.identity.claims.environment == environment
}

# A GitHub Actions job of `repository` running on a protected ref such as "refs/heads/main" or a
# tag; `ref` is matched as a glob ("refs/tags/v*"). Needs the claims repository and ref.
github_actions_ref(repository, ref) if {
	startswith(input.identity.iss, "https://token.actions.githubusercontent.com")
	input.identity.claims.repository == repository
	glob.match(ref, ["/"], input.identity.claims.ref)
}

# A GitLab CI job of project `project_path` ("group/project") on a protected branch or tag `ref`.
# Needs the claims project_path, ref and ref_protected (issuer: your GitLab URL, e.g. https://gitlab.com).
gitlab_ci_job(project_path, ref) if {
	input.identity.claims.project_path == project_path
	input.identity.claims.ref == ref
	input.identity.claims.ref_protected == "true"
}

# A Kubernetes service account `name` in `namespace`, from a projected, audience-bound token.
# Needs the claims kubernetes.io.namespace and kubernetes.io.serviceaccount.name.
kubernetes_service_account(namespace, name) if {
	input.identity.claims["kubernetes.io.namespace"] == namespace
	input.identity.claims["kubernetes.io.serviceaccount.name"] == name
}

# The prompt text, lower-cased once per evaluation: every case-insensitive keyword rule
# (blocks, approvals) reads this instead of lowering the whole text again per keyword.
package sluice

prompt_text := lower(object.get(input, ["request", "text"], ""))

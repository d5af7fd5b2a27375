/**
 * The upstream objects a Messages request refers to by id: files (a document or image whose
 * source is `{type: "file", file_id}`, a `container_upload` block), the code-execution container
 * it continues (`container` as an id or `{id}`), and the custom skills it loads
 * (`container.skills[]` of type `custom`, or naming a custom skill's id under any type). The
 * upstream sees one organisation key for everyone, so each of these must belong to the caller
 * (checked against the ownership store): a caller who learns another's file id must not be able
 * to read it through a message.
 */

/** One object a request names. */
export interface ObjectReference {
  readonly type: 'file' | 'container' | 'skill';
  readonly id: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a `container.skills` entry loads one of Anthropic's pre-built skills, which nobody owns. Both its type and
 * its id must say so: custom skill ids start `skill_`, so `{type: "anthropic", skill_id: "skill_…"}` (or any other
 * type) is still checked as a custom skill, whatever the upstream would make of it.
 */
function anthropicSkill(skill: Obj): boolean {
  return skill.type === 'anthropic' && typeof skill.skill_id === 'string' && !skill.skill_id.startsWith('skill_');
}

/**
 * Every object `body` (a parsed Messages request, or a batch's inner `params`) refers to, each
 * once. File references are looked for in the whole of `messages` and `system`, at any depth
 * (a document inside a tool_result, a search result's content): a reference hidden deeper is
 * still a reference.
 */
export function objectReferences(body: unknown): ObjectReference[] {
  const found = new Map<string, ObjectReference>();
  const add = (type: ObjectReference['type'], id: unknown): void => {
    if (typeof id === 'string' && id.length > 0) found.set(`${type}\u0000${id}`, { type, id });
  };
  if (!isObj(body)) return [];
  const walk = (node: unknown, depth: number): void => {
    if (depth > 64) return; // the inspection's own depth limit refuses deeper bodies before this runs
    if (Array.isArray(node)) {
      for (const item of node) walk(item, depth + 1);
      return;
    }
    if (!isObj(node)) return;
    if (node.type === 'file' || node.type === 'container_upload') add('file', node.file_id);
    for (const value of Object.values(node)) walk(value, depth + 1);
  };
  walk(body.messages, 0);
  walk(body.system, 0);
  const container = body.container;
  if (typeof container === 'string') add('container', container);
  if (isObj(container)) {
    add('container', container.id);
    if (Array.isArray(container.skills)) {
      for (const skill of container.skills) if (isObj(skill) && !anthropicSkill(skill)) add('skill', skill.skill_id);
    }
  }
  return [...found.values()];
}

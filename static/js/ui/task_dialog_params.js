// The task dialog's "Parameters and environment" part: the task's params (a JSON list
// of {"name", "type", "default", "choices", "required", "secret"}) and env (a JSON
// object of NAME: "value" or NAME: {"secret": "<secret name>"}), read, filled and
// matched to the server's errors ("params.<name>.<key>", "env.<NAME>").

const PARAMS_EXAMPLE = '[{"name": "target", "type": "string", "required": true}]';
const ENV_EXAMPLE = '{"DB_PASSWORD": {"secret": "db-password"}, "MODE": "fast"}';

function parse(text, field, want) {
  const trimmed = text.trim();
  if (!trimmed) return { value: null };
  let value;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    return { error: { field, message: `not valid JSON: ${err.message}` } };
  }
  const isList = Array.isArray(value);
  if (value === null || typeof value !== 'object' || isList !== (want === 'list')) {
    return { error: { field, message: want === 'list' ? `must be a JSON list, e.g. ${PARAMS_EXAMPLE}`
      : `must be a JSON object, e.g. ${ENV_EXAMPLE}` } };
  }
  return { value };
}

/** ``{body: {params, env}}`` from the form, or ``{error: {field, message}}``. */
export function readParamsEnv(fields) {
  if (!fields.params_json) return { body: {} }; // a page without the part
  const params = parse(fields.params_json.value, 'params', 'list');
  if (params.error) return params;
  const env = parse(fields.env_json.value, 'env', 'object');
  if (env.error) return env;
  return { body: { params: params.value, env: env.value } };
}

/** Fill the part from a task (empty for none). */
export function fillParamsEnv(fields, task) {
  if (!fields.params_json) return;
  // What the task says, without the keys left at null/false, one parameter a line.
  const params = (task.params || []).map((p) => Object.fromEntries(
    Object.entries(p).filter(([key, value]) => key === 'name' || key === 'type' || (value !== null && value !== false))));
  fields.params_json.value = params.length ? `[\n${params.map((p) => `  ${JSON.stringify(p)}`).join(',\n')}\n]` : '';
  const env = task.env || {};
  fields.env_json.value = Object.keys(env).length ? JSON.stringify(env, null, 2) : '';
}

/** The error slot of a server field under params or env, or null. */
export function paramsEnvSlot(field) {
  const root = String(field || '').split('.')[0];
  return root === 'params' || root === 'env' ? root : null;
}

/** The message shown in that slot: which parameter or variable it is about, then what. */
export function paramsEnvMessage(field, message) {
  const slot = paramsEnvSlot(field);
  return slot && field !== slot ? `${field.slice(slot.length + 1)}: ${message}` : message;
}

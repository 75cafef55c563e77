// Run parameters in the page: the "Run with..." form's values, Run again's plan, and the
// task dialog's params/env part (static/js/ui/param_values.js, task_dialog_params.js).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { paramValue, runAgainPlan } from '../../static/js/ui/param_values.js';
import { paramsEnvMessage, paramsEnvSlot, readParamsEnv } from '../../static/js/ui/task_dialog_params.js';

describe('Run with... values', () => {
  it('sends JSON types, and an empty field as null so the default applies', () => {
    assert.equal(paramValue({ type: 'integer' }, { value: ' 42 ' }), 42);
    assert.equal(paramValue({ type: 'number' }, { value: '1.5' }), 1.5);
    assert.equal(paramValue({ type: 'boolean' }, { checked: true }), true);
    assert.equal(paramValue({ type: 'string' }, { value: '' }), null);
    assert.equal(paramValue({ type: 'string' }, { value: ' a; $(b) ' }), ' a; $(b) ');
  });
  it('sends what does not fit as typed, for the server to name', () => {
    assert.equal(paramValue({ type: 'integer' }, { value: '4.5' }), '4.5');
    assert.equal(paramValue({ type: 'number' }, { value: 'many' }), 'many');
  });
});

describe('Run again', () => {
  const defs = [{ name: 'target', type: 'string' }, { name: 'token', type: 'string', secret: true }];
  it('repeats the values in one click when none is secret', () => {
    assert.deepEqual(runAgainPlan(defs.slice(0, 1), { target: '10.0.0.5', gone: 1 }),
      { values: { target: '10.0.0.5' }, needsForm: false });
  });
  it('opens the form for a secret value, never sending "***"', () => {
    assert.deepEqual(runAgainPlan(defs, { target: 'h', token: '***' }), { values: { target: 'h' }, needsForm: true });
  });
});

describe('task dialog params and env', () => {
  const fields = (params, env) => ({ params_json: { value: params }, env_json: { value: env } });
  it('reads JSON, empty as null', () => {
    assert.deepEqual(readParamsEnv(fields('[{"name": "a"}]', '')), { body: { params: [{ name: 'a' }], env: null } });
  });
  it('names the part whose JSON is wrong', () => {
    assert.equal(readParamsEnv(fields('{"name": "a"}', '')).error.field, 'params');
    assert.equal(readParamsEnv(fields('', '[1]')).error.field, 'env');
    assert.equal(readParamsEnv(fields('[', '')).error.field, 'params');
  });
  it('puts a server error under params or env, saying which one', () => {
    assert.equal(paramsEnvSlot('params.ports.default'), 'params');
    assert.equal(paramsEnvSlot('env.DB'), 'env');
    assert.equal(paramsEnvSlot('timeout'), null);
    assert.equal(paramsEnvMessage('params.ports.default', 'must be a whole number'), 'ports.default: must be a whole number');
    assert.equal(paramsEnvMessage('env', 'too big'), 'too big');
  });
});

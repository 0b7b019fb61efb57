// docker-compose.yml cannot run here (no Docker engine): it is checked against the Compose
// specification's JSON schema (test/fixtures/compose-spec.json, from compose-spec/compose-spec,
// Apache-2.0), and for the production shape README "Operations" describes.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string }>;
}

/** The schema (draft-07, ajv's default; its "$schema" URL lacks the "#" ajv registers it under, so it is left out). */
function composeSchema(): object {
  const { $schema: _draft, ...schema } = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/compose-spec.json'), 'utf8')) as Record<string, unknown>;
  return schema;
}

function load(): Compose {
  // `merge: true`: the file shares settings between services with YAML merge keys (<<: *app).
  return parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
}

test('compose › docker-compose.yml is valid against the Compose specification\'s JSON schema', () => {
  const schema = composeSchema();
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validate = ajv.compile(schema);
  const valid = validate(load());
  assert.ok(valid, JSON.stringify(validate.errors, null, 2));
});

test('compose › the schema check can fail: a service with an unknown key is refused', () => {
  const schema = composeSchema();
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const compose = load() as Compose & { services: Record<string, Service & { replicaz?: number }> };
  compose.services.app1!.replicaz = 2;
  assert.not.ok(ajv.compile(schema)(compose));
});

test('compose › two app servers on one DATABASE_URL behind a proxy that knows both, each health-checked by readiness', () => {
  const { services, configs } = load();
  const apps = Object.entries(services).filter(([, s]) => s.build !== undefined);
  assert.is(apps.length, 2, 'two importer servers');
  const [[, a], [, b]] = apps as [[string, Service], [string, Service]];
  assert.is(a.environment?.DATABASE_URL, b.environment?.DATABASE_URL, 'one database for both');
  assert.is(a.environment?.EVENTSTORE_URL, b.environment?.EVENTSTORE_URL);
  for (const [name, app] of apps) {
    assert.match(app.healthcheck!.test.join(' '), /\/api\/ready/, `${name} is health-checked by readiness`);
    assert.not.ok(app.ports, `${name} publishes no port: only the proxy does`);
  }
  const proxy = Object.values(services).find((s) => s.image?.startsWith('nginx'));
  assert.ok(proxy?.ports?.length, 'the proxy publishes the port');
  const upstream = configs?.nginx?.content ?? '';
  for (const [name] of apps) assert.match(upstream, new RegExp(`server ${name}:3000`), `the proxy sends to ${name}`);
});

test('compose › a three-node KurrentDB cluster: cluster size 3, each node gossips with the other two, TLS, and the apps list every node', () => {
  const { services } = load();
  const nodes = Object.entries(services).filter(([, s]) => s.image?.includes('kurrentdb'));
  assert.is(nodes.length, 3);
  for (const [name, node] of nodes) {
    const env = node.environment!;
    assert.is(env.KURRENTDB_CLUSTER_SIZE, '3', name);
    assert.is(env.KURRENTDB_DISCOVER_VIA_DNS, 'false', name);
    assert.not.ok(env.KURRENTDB_INSECURE, `${name} runs with TLS`);
    assert.ok(env.KURRENTDB_CERTIFICATE_FILE && env.KURRENTDB_CERTIFICATE_PRIVATE_KEY_FILE, name);
    const seeds = env.KURRENTDB_GOSSIP_SEED!.split(',');
    assert.is(seeds.length, 2, `${name} gossips with the two others`);
    assert.not.ok(seeds.some((seed) => seed.startsWith(`${env.KURRENTDB_REPLICATION_IP}:`)), `${name} does not seed itself`);
  }
  const url = Object.values(services).find((s) => s.build !== undefined)!.environment!.EVENTSTORE_URL!;
  for (const [name] of nodes) assert.ok(url.includes(`${name}:2113`), `EVENTSTORE_URL names ${name}`);
  assert.match(url, /tls=true/);
});

test.run();

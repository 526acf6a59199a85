#!/usr/bin/env node
// The whole leadvault flow from Node.js, against a running leadvaultd.
//
// A capture principal creates a lead with TCPA consent; an intake principal
// finds it in its queue, reads it for scheduling outreach by email and records
// a contact attempt (with the version it read; a stale version is refused); a
// compliance officer exports the audit log from a checkpoint taken at the
// start, writes it as the JSON Lines export of audit/FORMAT.md, has
// `leadvaultctl audit verify` check it offline against that checkpoint, and
// checks that the export holds the entries of every step, each naming the lead.
//
//   node flow.js --capture-token-file web-form.token --intake-token-file intake.token \
//       --compliance-token-file privacy.token --service-line orthopedics -o flow-audit.jsonl
//
// The server comes from --server or LEADVAULT_SERVER (default 127.0.0.1:7443);
// TLS is on with --ca or LEADVAULT_CA (--cert and --key add a client
// certificate). Tokens are read from files (mode 0600), never from arguments.
// The output names ids, versions, sequences and field names, never a personal
// value. Exit codes: 0 the flow ran and the export verified; 1 a step failed
// (the message names the step and the gRPC status); 2 usage.
'use strict';

const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const CALL_TIMEOUT_MS = 30 * 1000;
const EXPORT_TIMEOUT_MS = 600 * 1000;
const MAX_MESSAGE_BYTES = 64 << 20;
const MAX_TOKEN_FILE_BYTES = 4096;
const QUEUE_PAGE_SIZE = 100;

// The demo person: made-up values, never printed. The email carries a random
// run id so that a second run is a new lead, not a touch on the first one.
const DEMO_FIRST_NAME = 'Grace';
const DEMO_LAST_NAME = 'Hopper';
const DEMO_DISCLOSURE =
  'By submitting this form you agree that Example Ortho may contact you by email ' +
  'and text about scheduling. Consent is not a condition of purchase.';

// A step that failed; the message names it, never a personal value.
class FlowError extends Error {}
class UsageError extends Error {}

function say(text) {
  process.stdout.write(text + '\n');
}

// ---- Arguments, files and the connection -------------------------------------

const USAGE = `usage: node flow.js --capture-token-file F --intake-token-file F
                    --compliance-token-file F [--server HOST:PORT] [--ca CA.pem
                    [--cert C.pem --key K.pem]] [--service-line LINE] [--pubkey KEY]
                    [-o EXPORT.jsonl] [--leadvaultctl PATH] [--proto-dir DIR]`;

function parseArgs(argv) {
  let parsed;
  try {
    parsed = util.parseArgs({
      args: argv,
      options: {
        'server': {type: 'string', default: process.env.LEADVAULT_SERVER || '127.0.0.1:7443'},
        'ca': {type: 'string', default: process.env.LEADVAULT_CA || ''},
        'cert': {type: 'string', default: ''},
        'key': {type: 'string', default: ''},
        'capture-token-file': {type: 'string'},
        'intake-token-file': {type: 'string'},
        'compliance-token-file': {type: 'string'},
        'service-line': {type: 'string', default: 'orthopedics'},
        'pubkey': {type: 'string', default: ''},
        'export': {type: 'string', short: 'o', default: 'flow-audit.jsonl'},
        'leadvaultctl': {type: 'string', default: process.env.LEADVAULTCTL || 'leadvaultctl'},
        'proto-dir': {
          type: 'string',
          default:
              process.env.LEADVAULT_PROTO_DIR || path.join(__dirname, '..', '..', 'api', 'proto'),
        },
        'help': {type: 'boolean', short: 'h', default: false},
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new UsageError(`${e.message}\n${USAGE}`);
  }
  if (parsed.help) {
    say(USAGE);
    process.exit(EXIT_OK);
  }
  for (const name of ['capture-token-file', 'intake-token-file', 'compliance-token-file']) {
    if (!parsed[name]) throw new UsageError(`--${name} is required\n${USAGE}`);
  }
  return parsed;
}

// The first line of a token file, which no group or other may read.
function readToken(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new UsageError(`token file ${file} cannot be opened: ${e.code}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`token file ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      throw new UsageError(
          `token file ${file} is accessible by group or others (mode ${mode}); ` +
          `run: chmod 600 ${file}`);
    }
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const token = buffer.subarray(0, n).toString('latin1').split('\n')[0].trim();
    buffer.fill(0);
    if (!token) throw new UsageError(`token file ${file} is empty`);
    return token;
  } finally {
    fs.closeSync(fd);
  }
}

function readFile(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`${what} ${file} cannot be read: ${e.code}`);
  }
}

// A new file (mode 0600) holding `data`; refuses one that exists.
function writeNewFile(file, data) {
  let fd;
  try {
    fd = fs.openSync(file, 'wx', 0o600);
  } catch (e) {
    if (e.code === 'EEXIST') throw new UsageError(`${file} already exists: name a new file`);
    throw new UsageError(`${file} cannot be created: ${e.code}`);
  }
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function loadGrpc() {
  try {
    return {grpc: require('@grpc/grpc-js'), protoLoader: require('@grpc/proto-loader')};
  } catch (e) {
    throw new UsageError(
        `@grpc/grpc-js and @grpc/proto-loader are not installed (${e.code}): ` +
        'run npm ci in examples/node (README.md)');
  }
}

// The leadvault.v1 services, loaded from the .proto files at run time.
function loadServices(grpc, protoLoader, protoDir) {
  let definition;
  try {
    definition = protoLoader.loadSync('leadvault/v1/leadvault.proto', {
      includeDirs: [protoDir],
      keepCase: true,  // field names as in the .proto: lead_id, expected_version, ...
      longs: String,   // 64-bit integers as decimal strings
      enums: String,   // enum values by name
      defaults: true,
      oneofs: true,
    });
  } catch (e) {
    throw new UsageError(`cannot load leadvault/v1/leadvault.proto from ${protoDir}: ${e.message}`);
  }
  return grpc.loadPackageDefinition(definition).leadvault.v1;
}

function channelCredentials(grpc, args) {
  if (!args.ca) {
    if (args.cert || args.key) throw new UsageError('--cert and --key need --ca (TLS)');
    return {credentials: grpc.credentials.createInsecure(), mode: 'plaintext'};
  }
  if (Boolean(args.cert) !== Boolean(args.key)) {
    throw new UsageError('--cert and --key go together');
  }
  const credentials = grpc.credentials.createSsl(
      readFile(args.ca, 'CA file'), args.key ? readFile(args.key, 'key file') : null,
      args.cert ? readFile(args.cert, 'certificate file') : null);
  return {credentials, mode: args.cert ? 'mutual TLS' : 'TLS'};
}

// ---- The audit export as JSON Lines (audit/FORMAT.md, sections 1 and 5) ------

const OUTCOMES = {1: 'allowed', 2: 'denied', 3: 'failed', 4: 'unauthenticated'};
const U64 = 1n << 64n;

// One canonical entry (section 1); strings are Buffers (any bytes).
function decodeCanonical(data) {
  const fail = () => {
    throw new FlowError('audit entry: malformed canonical encoding');
  };
  if (data.length === 0 || data[0] !== 1) {
    throw new FlowError('audit entry: unknown canonical version');
  }
  let pos = 1;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; shift < 64n; shift += 7n) {
      if (pos >= data.length) fail();
      const b = data[pos++];
      if (shift === 63n && b > 1) fail();
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (b === 0 && shift > 0n) fail();  // not the shortest encoding
        return value;
      }
    }
    return fail();
  };
  const bytes = () => {
    const n = varint();
    if (n > BigInt(data.length - pos)) fail();
    const out = data.subarray(pos, pos + Number(n));
    pos += Number(n);
    return out;
  };
  const list = () => {
    const n = varint();
    if (n > BigInt(data.length - pos)) fail();
    const out = [];
    for (let i = 0n; i < n; i++) out.push(bytes());
    return out;
  };
  const e = {};
  e.sequence = varint();
  const z = varint();
  e.time_micros = BigInt.asIntN(64, (z >> 1n) ^ -(z & 1n));
  e.principal_id = bytes();
  e.role = bytes();
  e.action = bytes();
  e.outcome = varint();
  const code = varint();
  e.lead_ids = list();
  e.fields = list();
  e.blind_tokens = list();
  for (const name of ['purpose', 'request_id', 'peer', 'break_glass_reason', 'subject']) {
    e[name] = bytes();
  }
  if (pos !== data.length || !(e.outcome in OUTCOMES)) fail();
  if (code < 1n << 31n) {
    e.code = code;
  } else if (code >= U64 - (1n << 31n)) {
    e.code = code - U64;
  } else {
    fail();  // not an int32 sign-extended to 64 bits
  }
  e.outcome = Number(e.outcome);
  return e;
}

const SHORT_ESCAPES = {0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n',
  0x0d: '\\r', 0x09: '\\t'};

// Length of the well-formed UTF-8 sequence at s[i] (s[i] >= 0x80), or 0.
function utf8Length(s, i) {
  const c = s[i];
  const n = s.length - i;
  const cont = (k) => (s[i + k] & 0xc0) === 0x80;
  if (c < 0xc2) return 0;
  if (c < 0xe0) return n >= 2 && cont(1) ? 2 : 0;
  if (c < 0xf0) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return n >= 3 && s[i + 1] >= lo && s[i + 1] <= hi && cont(2) ? 3 : 0;
  }
  if (c < 0xf5) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return n >= 4 && s[i + 1] >= lo && s[i + 1] <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

const hex4 = (v) => v.toString(16).padStart(4, '0');

// The export's JSON string literal of the bytes `s` (section 5.1), as a Buffer.
function jsonString(s) {
  const out = [Buffer.from('"')];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) {
      let j = i + 1;
      while (j < s.length && s[j] >= 0x20 && s[j] < 0x7f && s[j] !== 0x22 && s[j] !== 0x5c) j++;
      out.push(s.subarray(i, j));
      i = j;
    } else if (c < 0x80) {
      out.push(Buffer.from(SHORT_ESCAPES[c] || `\\u${hex4(c)}`));
      i++;
    } else {
      const length = utf8Length(s, i);
      if (length === 0) {
        out.push(Buffer.from(`\\u${hex4(0xdc00 | c)}`));  // a byte outside UTF-8
        i++;
      } else if (length === 3 && c === 0xe2 && s[i + 1] === 0x80 &&
          (s[i + 2] === 0xa8 || s[i + 2] === 0xa9)) {
        out.push(Buffer.from(s[i + 2] === 0xa8 ? '\\u2028' : '\\u2029'));
        i += 3;
      } else {
        out.push(s.subarray(i, i + length));
        i += length;
      }
    }
  }
  out.push(Buffer.from('"'));
  return Buffer.concat(out);
}

const floorDiv = (a, b) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const pad = (v, n) => String(v).padStart(n, '0');

// RFC 3339 UTC with six fraction digits; ISO 8601 expanded years outside 0..9999 (5.2).
function renderTime(micros) {
  const seconds = floorDiv(micros, 1000000n);
  const sub = micros - seconds * 1000000n;
  const days = floorDiv(seconds, 86400n);
  const secondOfDay = Number(seconds - days * 86400n);
  // Civil date from days since 1970-01-01 (H. Hinnant), proleptic Gregorian.
  const z = days + 719468n;
  const era = floorDiv(z, 146097n);
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  let y;
  if (year >= 0n && year <= 9999n) {
    y = pad(year, 4);
  } else {
    y = (year < 0n ? '-' : '+') + pad(year < 0n ? -year : year, 4);
  }
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(Math.floor(secondOfDay / 3600), 2)}:` +
      `${pad(Math.floor(secondOfDay / 60) % 60, 2)}:${pad(secondOfDay % 60, 2)}.${pad(sub, 6)}Z`;
}

const jsonList = (items) => Buffer.concat([
  Buffer.from('['),
  ...items.flatMap((x, k) => (k ? [Buffer.from(','), jsonString(x)] : [jsonString(x)])),
  Buffer.from(']'),
]);
const hashList = (hashes) =>
  `[${hashes.map((h) => `"${Buffer.from(h).toString('base64')}"`).join(',')}]`;
const line = (...parts) => Buffer.concat(
    [...parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))), Buffer.from('\n')]);

function renderHeader(h) {
  return line('{"type":"header","format":"leadvault-audit-export","version":1,"origin":',
      jsonString(Buffer.from(h.origin, 'utf8')),
      `,"first_sequence":${BigInt(h.first_sequence)},"last_sequence":${BigInt(h.last_sequence)}`,
      `,"filtered":false,"left_frontier":${hashList(h.left_frontier)}}`);
}

function renderEntry(e, canonical) {
  return line(`{"type":"entry","seq":${e.sequence},"time":"${renderTime(e.time_micros)}"`,
      ',"principal":', jsonString(e.principal_id), ',"role":', jsonString(e.role),
      ',"action":', jsonString(e.action), `,"outcome":"${OUTCOMES[e.outcome]}","code":${e.code}`,
      ',"lead_ids":', jsonList(e.lead_ids), ',"fields":', jsonList(e.fields),
      ',"blind_tokens":', jsonList(e.blind_tokens), ',"purpose":', jsonString(e.purpose),
      ',"request_id":', jsonString(e.request_id), ',"peer":', jsonString(e.peer),
      ',"break_glass_reason":', jsonString(e.break_glass_reason),
      ',"subject":', jsonString(e.subject), `,"canonical":"${canonical.toString('base64')}"}`);
}

function renderTrailer(note, rightNodes) {
  return line('{"type":"checkpoint","note":', jsonString(Buffer.from(note, 'utf8')),
      `,"right_nodes":${hashList(rightNodes)}}`);
}

function renderConsistency(fromSize, proof) {
  return line(`{"type":"consistency","from_size":${fromSize},"proof":${hashList(proof)}}`);
}

// The tree size a signed checkpoint note claims (its signature is checked by
// leadvaultctl audit verify, not here).
function claimedSize(note) {
  const text = note.slice(0, note.lastIndexOf('\n\n') + 1);
  const size = text.split('\n')[1];
  if (!/^(0|[1-9][0-9]{0,19})$/.test(size || '')) {
    throw new FlowError('the checkpoint note has no tree size');
  }
  return BigInt(size);
}

// ---- The flow ------------------------------------------------------------------

class Flow {
  constructor(grpc, services, address, credentials, tokens, args) {
    const options = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    };
    this.grpc = grpc;
    this.leads = new services.LeadVault(address, credentials, options);
    // The same channel for both services (grpc-js shares it by address and options).
    this.compliance = new services.Compliance(address, credentials, options);
    this.tokens = tokens;
    this.args = args;
    this.stepNumber = 0;
    this.leadId = '';
  }

  close() {
    this.leads.close();
    this.compliance.close();
  }

  metadata(role) {
    const md = new this.grpc.Metadata();
    md.add('authorization', `Bearer ${this.tokens[role]}`);
    return md;
  }

  codeName(code) {
    return Object.keys(this.grpc.status).find((k) => this.grpc.status[k] === code) || String(code);
  }

  // A unary call as `role`; rejects with the gRPC error.
  rawCall(client, method, role, request) {
    return new Promise((resolve, reject) => {
      client[method](request, this.metadata(role), {deadline: Date.now() + CALL_TIMEOUT_MS},
          (err, response) => (err ? reject(err) : resolve(response)));
    });
  }

  async call(client, method, role, request) {
    try {
      return await this.rawCall(client, method, role, request);
    } catch (e) {
      throw new FlowError(`${method}: ${this.codeName(e.code)}: ${e.details}`);
    }
  }

  step(text) {
    this.stepNumber++;
    say(`[${this.stepNumber}] ${text}`);
  }

  async run() {
    // 1. The compliance officer keeps a signed checkpoint from before the flow.
    const cp = await this.call(this.compliance, 'GetCheckpoint', 'compliance', {});
    let pubkey = cp.verifier_key;
    let keySource = "the daemon's key (pass --pubkey to pin one)";
    if (this.args.pubkey) {
      const given = this.args.pubkey;
      const isFile = !given.includes('+') || fs.existsSync(given);
      pubkey = isFile ? readFile(given, '--pubkey').toString('utf8').trim() : given.trim();
      keySource = '--pubkey';
    }
    const trustedSize = BigInt(cp.checkpoint.tree_size);
    const exportPath = this.args.export;
    const pubkeyPath = `${exportPath}.pub`;
    const trustedPath = `${exportPath}.trusted`;
    writeNewFile(pubkeyPath, `${pubkey}\n`);
    writeNewFile(trustedPath, cp.checkpoint.note);
    this.step(`compliance: GetCheckpoint -> tree size ${trustedSize}, kept as ${trustedPath}; ` +
        `verifier key from ${keySource} in ${pubkeyPath}`);

    // 2. The web form submits a lead with the consent it captured.
    const runId = crypto.randomBytes(8).toString('hex');
    const created = await this.call(this.leads, 'CreateLead', 'capture', {
      idempotency_key: `flow-${runId}`,
      personal: {
        first_name: DEMO_FIRST_NAME,
        last_name: DEMO_LAST_NAME,
        email: `grace.${runId}@example.com`,
      },
      attribution: {
        source: 'SOURCE_CHANNEL_WEB_FORM',
        service_line: this.args['service-line'],
        campaign: 'knee-pain-2026',
        landing_page: 'https://clinic.example/knee',
      },
      consent: {
        channels: ['CONSENT_CHANNEL_EMAIL'],
        purposes: ['CONSENT_PURPOSE_SCHEDULING'],
        evidence: {
          captured_at_unix_micros: String(BigInt(Date.now()) * 1000n),
          source_url: 'https://clinic.example/knee',
          seller_name: 'Example Ortho',
          disclosure_version: '2026-10',
          disclosure_sha256: crypto.createHash('sha256').update(DEMO_DISCLOSURE).digest('hex'),
          authorizes_automated: true,
          not_condition_of_purchase: true,
          capture_certificate_id: `cert-${runId}`,
          user_agent: 'leadvault flow.js',
        },
      },
    });
    if (created.duplicate) {
      throw new FlowError('CreateLead: the demo lead was taken as a duplicate of an earlier one');
    }
    this.leadId = created.lead_id;
    this.step(`capture: CreateLead (service line ${this.args['service-line']}, consent ` +
        `email/scheduling with TCPA evidence) -> created lead ${this.leadId} ` +
        `(version ${created.version})`);

    // 3. Intake finds it in the queue of new leads of its service line.
    let pageToken = '';
    let seen = 0;
    let found = null;
    while (found === null) {
      const page = await this.call(this.leads, 'ListQueue', 'intake', {
        service_line: this.args['service-line'],
        status: 'LEAD_STATUS_NEW',
        page_size: QUEUE_PAGE_SIZE,
        page_token: pageToken,
      });
      for (const meta of page.leads) {
        seen++;
        if (meta.lead_id === this.leadId) {
          found = {position: seen, meta};
          break;
        }
      }
      if (found === null && !page.next_page_token) {
        throw new FlowError(`ListQueue: lead ${this.leadId} is not in the queue ` +
            `${this.args['service-line']}/new (${seen} leads listed)`);
      }
      pageToken = page.next_page_token;
    }
    this.step(`intake: ListQueue ${this.args['service-line']}/new -> lead ${this.leadId} at ` +
        `position ${found.position} (version ${found.meta.version}, ` +
        `${found.meta.contact_attempts.length} attempts)`);

    // 4. Intake reads it to schedule by email: the email comes back only with
    //    active consent for email/scheduling.
    const read = await this.call(this.leads, 'GetLead', 'intake', {
      lead_id: this.leadId,
      purpose: 'PURPOSE_OF_USE_SCHEDULING_OUTREACH',
      outreach_channel: 'CONSENT_CHANNEL_EMAIL',
      outreach_purpose: 'CONSENT_PURPOSE_SCHEDULING',
    });
    const personal = read.lead.personal || {};
    const shown = Object.keys(personal).filter((k) => personal[k] !== '').sort();
    const withheld = read.withheld.map((w) => `${w.field}:${w.reason}`);
    if (!shown.includes('email')) {
      throw new FlowError('GetLead: the email was not returned for outreach (withheld: ' +
          `${withheld.join(', ') || 'nothing'})`);
    }
    const version = BigInt(read.lead.metadata.version);
    this.step('intake: GetLead purpose scheduling_outreach by email -> fields ' +
        `${shown.join(', ')} (values not shown), withheld ${withheld.join(', ') || 'none'}, ` +
        `version ${version}`);

    // 5. Intake records the contact attempt against the version it read.
    const update = {
      lead_id: this.leadId,
      expected_version: String(version),
      status: 'LEAD_STATUS_CONTACTED',
      add_contact_attempts: [{
        at_unix_micros: String(BigInt(Date.now()) * 1000n),
        channel: 'CONTACT_CHANNEL_EMAIL',
        outcome: 'CONTACT_OUTCOME_REPLIED',
        purpose: 'CONSENT_PURPOSE_SCHEDULING',
      }],
    };
    const updated = (await this.call(this.leads, 'UpdateLead', 'intake', update)).metadata;
    if (updated.status !== 'LEAD_STATUS_CONTACTED' || BigInt(updated.version) <= version) {
      throw new FlowError('UpdateLead: the reply does not show the change');
    }
    this.step(`intake: UpdateLead expected_version ${version} -> status contacted, attempt ` +
        `email/replied (attempts now ${updated.contact_attempts.length}), ` +
        `version ${updated.version}`);

    // 6. The same update again, still naming the old version: refused.
    let stale = null;
    try {
      await this.rawCall(this.leads, 'UpdateLead', 'intake', update);
    } catch (e) {
      stale = e;
    }
    if (stale === null) throw new FlowError('UpdateLead: a stale expected_version was accepted');
    if (stale.code !== this.grpc.status.ABORTED) {
      throw new FlowError(`UpdateLead (stale): ${this.codeName(stale.code)}: ${stale.details}`);
    }
    this.step(`intake: UpdateLead again with stale expected_version ${version} -> ABORTED, ` +
        'as it must be');

    // 7. Compliance exports what was logged since the checkpoint of step 1.
    const first = trustedSize + 1n;
    const {lines, entries, covering} = await this.exportAudit(first, trustedSize);
    writeNewFile(exportPath, Buffer.concat(lines));
    this.step(`compliance: ExportAudit from sequence ${first} -> ${exportPath} ` +
        `(${entries.length} entries, checkpoint size ${covering})`);

    // 8. Offline: leadvaultctl checks the file against the key and the
    //    checkpoint of step 1; then the entries of this flow, naming the lead.
    const verify = childProcess.spawnSync(this.args.leadvaultctl,
        ['audit', 'verify', exportPath, '--pubkey', pubkeyPath, '--trusted', trustedPath],
        {encoding: 'utf8'});
    if (verify.error) {
      throw new FlowError(
          `cannot run ${this.args.leadvaultctl} (--leadvaultctl): ${verify.error.code}`);
    }
    if (verify.status !== 0) {
      throw new FlowError(
          `leadvaultctl audit verify exited ${verify.status}: ${verify.stderr.trim()}`);
    }
    const verdict = verify.stdout.trim().split('\n')[0];
    if (!verdict.startsWith('OK: ') ||
        !verdict.includes('consistent with the trusted checkpoint')) {
      throw new FlowError(
          `leadvaultctl audit verify did not check the trusted checkpoint: ${verdict}`);
    }
    this.step(`verify (leadvaultctl audit verify): ${verdict}`);
    this.checkEntries(entries);
  }

  // Streams ExportAudit from sequence `first` as JSON Lines, with the
  // consistency proof from the trusted tree size.
  async exportAudit(first, trustedSize) {
    const call = this.compliance.ExportAudit({from_sequence: String(first)},
        this.metadata('compliance'), {deadline: Date.now() + EXPORT_TIMEOUT_MS});
    const lines = [];
    const entries = [];
    let header = null;
    try {
      for await (const message of call) {
        if (message.header) {
          header = message.header;
          if (header.filtered) {
            throw new FlowError('ExportAudit: the daemon sent a filtered export');
          }
          lines.push(renderHeader(header));
        }
        if (header === null) throw new FlowError('ExportAudit: the export has no header');
        for (const record of message.entries) {
          const entry = decodeCanonical(record.canonical);
          lines.push(renderEntry(entry, record.canonical));
          entries.push(entry);
        }
      }
    } catch (e) {
      call.cancel();  // an unread stream would hold the call until its deadline
      if (e instanceof FlowError) throw e;
      throw new FlowError(`ExportAudit: ${this.codeName(e.code)}: ${e.details || e.message}`);
    }
    if (header === null) throw new FlowError('ExportAudit: the daemon sent no export');
    lines.push(renderTrailer(header.checkpoint_note, header.right_nodes));
    const covering = claimedSize(header.checkpoint_note);
    if (trustedSize <= covering) {
      const proof = await this.call(this.compliance, 'GetConsistencyProof', 'compliance',
          {from_size: String(trustedSize), to_size: String(covering)});
      lines.push(renderConsistency(trustedSize, proof.proof));
    }
    return {lines, entries, covering};
  }

  // The export holds each step's entry, in order, naming the lead.
  checkEntries(entries) {
    const expected = [
      ['CreateLead', 'allowed', 'capture', ''],
      ['ListQueue', 'allowed', 'intake', ''],
      ['GetLead', 'allowed', 'intake', 'scheduling_outreach'],
      ['UpdateLead', 'allowed', 'intake', ''],
      ['UpdateLead', 'failed', 'intake', ''],
    ];
    const lead = Buffer.from(this.leadId);
    let at = 0;
    for (const e of entries) {
      if (at === expected.length) break;
      if (!e.lead_ids.some((id) => id.equals(lead))) continue;
      const [action, outcome, role, purpose] = expected[at];
      if (e.action.toString() === action && OUTCOMES[e.outcome] === outcome &&
          e.role.toString() === role && (!purpose || e.purpose.toString() === purpose)) {
        say(`    seq ${e.sequence} ${action} ${outcome} (${role}` +
            `${purpose ? `, purpose ${purpose}` : ''})`);
        at++;
      }
    }
    if (at !== expected.length) {
      const [action, outcome, role] = expected[at];
      throw new FlowError(`audit: no ${action} ${outcome} entry by ${role} naming lead ` +
          `${this.leadId} after the ones above`);
    }
    const exports = entries.filter((e) => e.action.toString() === 'ExportAudit');
    if (exports.length === 0) {
      throw new FlowError('audit: the export does not hold its own ExportAudit entry');
    }
    this.step(`audit: each step's entry names lead ${this.leadId}, in order; the export's own ` +
        `entry is seq ${exports[exports.length - 1].sequence}`);
  }
}

async function main(argv) {
  let flow;
  try {
    const args = parseArgs(argv);
    const {grpc, protoLoader} = loadGrpc();
    const services = loadServices(grpc, protoLoader, args['proto-dir']);
    const tokens = {
      capture: readToken(args['capture-token-file']),
      intake: readToken(args['intake-token-file']),
      compliance: readToken(args['compliance-token-file']),
    };
    const {credentials, mode} = channelCredentials(grpc, args);
    say(`leadvault flow against ${args.server} (${mode}) at ${new Date().toISOString()}`);
    flow = new Flow(grpc, services, args.server, credentials, tokens, args);
    await flow.run();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`leadvault flow.js: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof FlowError) {
      process.stderr.write(
          `leadvault flow.js: FAILED after step ${flow.stepNumber}: ${e.message}\n`);
      return EXIT_FAILED;
    }
    throw e;
  } finally {
    if (flow) flow.close();
  }
  say('OK: the flow ran and its audit trail verified');
  return EXIT_OK;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (e) => {
  process.stderr.write(`leadvault flow.js: unexpected error: ${e.stack || e}\n`);
  process.exitCode = EXIT_FAILED;
});

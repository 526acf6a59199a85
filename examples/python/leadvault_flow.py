#!/usr/bin/env python3
"""The whole leadvault flow from Python, against a running leadvaultd.

A capture principal creates a lead with TCPA consent; an intake principal finds
it in its queue, reads it for scheduling outreach by email and records a contact
attempt (with the version it read; a stale version is refused); a compliance
officer exports the audit log from a checkpoint taken at the start and verifies
it offline (leadvault_audit.py), then checks that the export holds the entries
of every step, each naming the lead.

    (cd api/proto && python3 -m grpc_tools.protoc -I . --python_out=STUBS \\
        --grpc_python_out=STUBS $(find . -name '*.proto'))
    PYTHONPATH=STUBS python3 examples/python/leadvault_flow.py \\
        --capture-token-file web-form.token --intake-token-file intake.token \\
        --compliance-token-file privacy.token --service-line orthopedics -o flow-audit.jsonl

The server comes from --server or LEADVAULT_SERVER (default 127.0.0.1:7443); TLS
is on with --ca or LEADVAULT_CA (--cert and --key add a client certificate).
Tokens are read from files (mode 0600), never from arguments. The output names
ids, versions, sequences and field names, never a personal value.

Exit codes: 0 the flow ran and the audit export verified; 1 a step failed (the
message names the step and the gRPC status); 2 usage (arguments, stubs, files).

Needs Debian 12's python3-grpcio, python3-grpc-tools (for the stubs) and
python3-cryptography (for leadvault_audit.py).
"""

import argparse
import datetime
import hashlib
import os
import secrets
import stat
import sys
import time

import leadvault_audit as la

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
CALL_TIMEOUT_SECONDS = 30
EXPORT_TIMEOUT_SECONDS = 600
MAX_MESSAGE_BYTES = 64 << 20
MAX_TOKEN_FILE_BYTES = 4096
QUEUE_PAGE_SIZE = 100

# The demo person: made-up values, never printed. The email carries a random
# run id so that a second run is a new lead, not a touch on the first one.
DEMO_FIRST_NAME = "Grace"
DEMO_LAST_NAME = "Hopper"
DEMO_DISCLOSURE = (
    "By submitting this form you agree that Example Ortho may contact you by email "
    "and text about scheduling. Consent is not a condition of purchase."
)


class FlowError(Exception):
    """A step that failed; the message names it, never a personal value."""


class UsageError(Exception):
    pass


def say(text):
    print(text, flush=True)


def import_stubs():
    """The generated modules (leadvault_pb2, leadvault_pb2_grpc), or UsageError."""
    try:
        import grpc  # noqa: F401  (python3-grpcio)
    except ImportError:
        raise UsageError("needs grpcio: apt-get install python3-grpcio")
    try:
        from leadvault.v1 import leadvault_pb2, leadvault_pb2_grpc
    except ImportError as e:
        raise UsageError(
            "the generated stubs are not on PYTHONPATH (%s): generate them from api/proto with "
            "python3 -m grpc_tools.protoc --python_out=DIR --grpc_python_out=DIR and set "
            "PYTHONPATH=DIR (README.md)" % e
        )
    return leadvault_pb2, leadvault_pb2_grpc


def read_token(path):
    """The first line of a token file, which no group or other may read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError("token file %s cannot be opened: %s" % (path, e.strerror))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError("token file %s is not a regular file" % path)
        if st.st_mode & 0o077:
            raise UsageError(
                "token file %s is accessible by group or others (mode %04o); run: chmod 600 %s"
                % (path, stat.S_IMODE(st.st_mode), path)
            )
        data = os.read(fd, MAX_TOKEN_FILE_BYTES)
    finally:
        os.close(fd)
    token = data.split(b"\n", 1)[0].strip().decode("ascii", "replace")
    if not token:
        raise UsageError("token file %s is empty" % path)
    return token


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise UsageError("%s %s cannot be read: %s" % (what, path, e.strerror))


def open_channel(grpc, args):
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if not args.ca:
        if args.cert or args.key:
            raise UsageError("--cert and --key need --ca (TLS)")
        return grpc.insecure_channel(args.server, options=options), "plaintext"
    if bool(args.cert) != bool(args.key):
        raise UsageError("--cert and --key go together")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read_file(args.ca, "CA file"),
        private_key=read_file(args.key, "key file") if args.key else None,
        certificate_chain=read_file(args.cert, "certificate file") if args.cert else None,
    )
    mode = "mutual TLS" if args.cert else "TLS"
    return grpc.secure_channel(args.server, credentials, options=options), mode


def load_pubkey(pubkey):
    """The verifier key given as itself or in a file (as leadvault_audit.py reads it)."""
    text = pubkey
    if "+" not in pubkey or os.access(pubkey, os.R_OK):
        text = read_file(pubkey, "--pubkey").decode("utf-8", "replace")
    return text.strip(" \t\n\v\f\r")


def new_file(path):
    """A new file (mode 0600) for writing; refuses one that exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise UsageError("%s already exists: name a new file" % path)
    except OSError as e:
        raise UsageError("%s cannot be created: %s" % (path, e.strerror))
    return os.fdopen(fd, "wb")


def now_micros():
    return time.time_ns() // 1000


class Flow:
    """The steps, in order; each prints one line and raises FlowError on failure."""

    def __init__(self, grpc, pb, rpc, channel, tokens, args):
        self.grpc = grpc
        self.pb = pb
        self.leads = rpc.LeadVaultStub(channel)
        self.compliance = rpc.ComplianceStub(channel)
        self.tokens = tokens
        self.args = args
        self.step_number = 0
        self.lead_id = ""

    def call(self, what, role, method, request, timeout=CALL_TIMEOUT_SECONDS):
        metadata = [("authorization", "Bearer " + self.tokens[role])]
        try:
            return method(request, timeout=timeout, metadata=metadata)
        except self.grpc.RpcError as e:
            raise FlowError("%s: %s: %s" % (what, e.code().name, e.details()))

    def step(self, text):
        self.step_number += 1
        say("[%d] %s" % (self.step_number, text))

    def run(self):
        pb = self.pb
        # 1. The compliance officer keeps a signed checkpoint from before the flow.
        cp = self.call(
            "GetCheckpoint", "compliance", self.compliance.GetCheckpoint, pb.GetCheckpointRequest()
        )
        if self.args.pubkey:
            pubkey, key_source = load_pubkey(self.args.pubkey), "--pubkey"
        else:
            pubkey, key_source = cp.verifier_key, "the daemon's key (pass --pubkey to pin one)"
        try:
            verifier = la.NoteVerifier(pubkey)
        except la.VerifyError as e:
            raise FlowError("verifier key from %s: %s" % (key_source, e))
        try:
            trusted = la.open_checkpoint(cp.checkpoint.note.encode("utf-8"), verifier)
        except la.VerifyError as e:
            raise FlowError("GetCheckpoint: %s" % e)
        # Kept beside the export, to verify it again later (README.md).
        export_path = self.args.export
        pubkey_path, trusted_path = export_path + ".pub", export_path + ".trusted"
        with new_file(pubkey_path) as f:
            f.write(pubkey.encode("utf-8") + b"\n")
        with new_file(trusted_path) as f:
            f.write(cp.checkpoint.note.encode("utf-8"))
        self.step(
            "compliance: GetCheckpoint -> tree size %d, signature checked, kept as %s; verifier "
            "key from %s in %s" % (trusted.size, trusted_path, key_source, pubkey_path)
        )

        # 2. The web form submits a lead with the consent it captured.
        run_id = secrets.token_hex(8)
        disclosure_sha256 = hashlib.sha256(DEMO_DISCLOSURE.encode("utf-8")).hexdigest()
        request = pb.CreateLeadRequest(
            idempotency_key="flow-" + run_id,
            personal=pb.PersonalData(
                first_name=DEMO_FIRST_NAME,
                last_name=DEMO_LAST_NAME,
                email="grace.%s@example.com" % run_id,
            ),
            attribution=pb.Attribution(
                source=pb.SOURCE_CHANNEL_WEB_FORM,
                service_line=self.args.service_line,
                campaign="knee-pain-2026",
                landing_page="https://clinic.example/knee",
            ),
            consent=pb.ConsentGrant(
                channels=[pb.CONSENT_CHANNEL_EMAIL],
                purposes=[pb.CONSENT_PURPOSE_SCHEDULING],
                evidence=pb.ConsentEvidence(
                    captured_at_unix_micros=now_micros(),
                    source_url="https://clinic.example/knee",
                    seller_name="Example Ortho",
                    disclosure_version="2026-10",
                    disclosure_sha256=disclosure_sha256,
                    authorizes_automated=True,
                    not_condition_of_purchase=True,
                    capture_certificate_id="cert-" + run_id,
                    user_agent="leadvault_flow.py",
                ),
            ),
        )
        created = self.call("CreateLead", "capture", self.leads.CreateLead, request)
        if created.duplicate:
            raise FlowError("CreateLead: the demo lead was taken as a duplicate of an earlier one")
        self.lead_id = created.lead_id
        self.step(
            "capture: CreateLead (service line %s, consent email/scheduling with TCPA evidence) "
            "-> created lead %s (version %d)"
            % (self.args.service_line, self.lead_id, created.version)
        )

        # 3. Intake finds it in the queue of new leads of its service line.
        page_token = ""
        seen = 0
        found = None
        while found is None:
            page = self.call(
                "ListQueue",
                "intake",
                self.leads.ListQueue,
                pb.ListQueueRequest(
                    service_line=self.args.service_line,
                    status=pb.LEAD_STATUS_NEW,
                    page_size=QUEUE_PAGE_SIZE,
                    page_token=page_token,
                ),
            )
            for meta in page.leads:
                seen += 1
                if meta.lead_id == self.lead_id:
                    found = (seen, meta)
                    break
            if found is None and not page.next_page_token:
                raise FlowError(
                    "ListQueue: lead %s is not in the queue %s/new (%d leads listed)"
                    % (self.lead_id, self.args.service_line, seen)
                )
            page_token = page.next_page_token
        position, meta = found
        self.step(
            "intake: ListQueue %s/new -> lead %s at position %d (version %d, %d attempts)"
            % (
                self.args.service_line,
                self.lead_id,
                position,
                meta.version,
                len(meta.contact_attempts),
            )
        )

        # 4. Intake reads it to schedule by email: the email comes back only
        #    with active consent for email/scheduling.
        read = self.call(
            "GetLead",
            "intake",
            self.leads.GetLead,
            pb.GetLeadRequest(
                lead_id=self.lead_id,
                purpose=pb.PURPOSE_OF_USE_SCHEDULING_OUTREACH,
                outreach_channel=pb.CONSENT_CHANNEL_EMAIL,
                outreach_purpose=pb.CONSENT_PURPOSE_SCHEDULING,
            ),
        )
        shown = sorted(f.name for f, _ in read.lead.personal.ListFields())
        withheld = ["%s:%s" % (w.field, w.reason) for w in read.withheld]
        if "email" not in shown:
            raise FlowError(
                "GetLead: the email was not returned for outreach (withheld: %s)"
                % (", ".join(withheld) or "nothing")
            )
        version = read.lead.metadata.version
        self.step(
            "intake: GetLead purpose scheduling_outreach by email -> fields %s (values not "
            "shown), withheld %s, version %d"
            % (", ".join(shown), ", ".join(withheld) or "none", version)
        )

        # 5. Intake records the contact attempt against the version it read.
        attempt = pb.ContactAttempt(
            at_unix_micros=now_micros(),
            channel=pb.CONTACT_CHANNEL_EMAIL,
            outcome=pb.CONTACT_OUTCOME_REPLIED,
            purpose=pb.CONSENT_PURPOSE_SCHEDULING,
        )
        update = pb.UpdateLeadRequest(
            lead_id=self.lead_id,
            expected_version=version,
            status=pb.LEAD_STATUS_CONTACTED,
            add_contact_attempts=[attempt],
        )
        updated = self.call("UpdateLead", "intake", self.leads.UpdateLead, update)
        m = updated.metadata
        if m.status != pb.LEAD_STATUS_CONTACTED or m.version <= version:
            raise FlowError("UpdateLead: the reply does not show the change")
        self.step(
            "intake: UpdateLead expected_version %d -> status contacted, attempt email/replied "
            "(attempts now %d), version %d" % (version, len(m.contact_attempts), m.version)
        )

        # 6. The same update again, still naming the old version: refused.
        try:
            self.leads.UpdateLead(
                update,
                timeout=CALL_TIMEOUT_SECONDS,
                metadata=[("authorization", "Bearer " + self.tokens["intake"])],
            )
            raise FlowError("UpdateLead: a stale expected_version was accepted")
        except self.grpc.RpcError as e:
            if e.code() != self.grpc.StatusCode.ABORTED:
                raise FlowError("UpdateLead (stale): %s: %s" % (e.code().name, e.details()))
        self.step(
            "intake: UpdateLead again with stale expected_version %d -> ABORTED, as it must be"
            % version
        )

        # 7. Compliance exports what was logged since the checkpoint of step 1.
        first = trusted.size + 1
        entries = []
        with new_file(export_path) as out:
            try:
                covering = self.export(out, first, trusted, entries)
            except FlowError:
                os.unlink(export_path)  # no half export left behind
                raise
        self.step(
            "compliance: ExportAudit from sequence %d -> %s (%d entries, checkpoint size %d)"
            % (first, export_path, len(entries), covering)
        )

        # 8. Offline: the file against the key and the checkpoint of step 1,
        #    then the entries of this flow, each naming the lead.
        try:
            report = la.verify_export(export_path, verifier, trusted)
        except la.VerifyError as e:
            raise FlowError("verify %s: %s" % (export_path, e))
        if not report.trusted_checked:
            raise FlowError("verify: the export was not checked against the first checkpoint")
        self.step(
            "verify: OK: %d entries (sequences %d..%d) under the signed root of size %d, "
            "consistent with the checkpoint of step 1"
            % (report.entries, report.first_sequence, report.last_sequence, report.checkpoint.size)
        )
        self.check_entries(entries)

    def export(self, out, first, trusted, entries):
        """Streams ExportAudit into `out` as JSON Lines (audit/FORMAT.md section 5),
        with the consistency proof from `trusted`; the covering tree size."""
        pb = self.pb
        metadata = [("authorization", "Bearer " + self.tokens["compliance"])]
        stream = self.compliance.ExportAudit(
            pb.ExportAuditRequest(from_sequence=first),
            timeout=EXPORT_TIMEOUT_SECONDS,
            metadata=metadata,
        )
        header = None
        try:
            for message in stream:
                if message.HasField("header"):
                    header = message.header
                    h = la.Header()
                    h.origin = header.origin.encode("utf-8")
                    h.first_sequence = header.first_sequence
                    h.last_sequence = header.last_sequence
                    h.filtered = header.filtered
                    h.left_frontier = list(header.left_frontier)
                    if h.filtered:
                        raise FlowError("ExportAudit: the daemon sent a filtered export")
                    out.write(la.render_header(h) + b"\n")
                if header is None:
                    raise FlowError("ExportAudit: the export has no header")
                for record in message.entries:
                    try:
                        entry = la.decode_canonical(record.canonical)
                    except la.VerifyError as e:
                        raise FlowError("ExportAudit: %s" % e)
                    out.write(la.render_entry_line(entry, record.canonical, None) + b"\n")
                    entries.append(entry)
        except self.grpc.RpcError as e:
            raise FlowError("ExportAudit: %s: %s" % (e.code().name, e.details()))
        except FlowError:
            stream.cancel()  # an unread stream would hold the call until its deadline
            raise
        if header is None:
            raise FlowError("ExportAudit: the daemon sent no export")
        note = header.checkpoint_note.encode("utf-8")
        out.write(la.render_trailer(note, list(header.right_nodes), None) + b"\n")
        try:
            covering = la.parse_checkpoint(note[: note.rfind(b"\n\n") + 1]).size
        except la.VerifyError as e:
            raise FlowError("ExportAudit: %s" % e)
        if trusted.size <= covering:
            proof = self.call(
                "GetConsistencyProof",
                "compliance",
                self.compliance.GetConsistencyProof,
                pb.GetConsistencyProofRequest(from_size=trusted.size, to_size=covering),
            )
            out.write(la.render_consistency(trusted.size, list(proof.proof)) + b"\n")
        return covering

    def check_entries(self, entries):
        """The export holds each step's entry, in order, naming the lead."""
        lead = self.lead_id.encode("ascii")
        expected = [
            ("CreateLead", "allowed", b"capture", b""),
            ("ListQueue", "allowed", b"intake", b""),
            ("GetLead", "allowed", b"intake", b"scheduling_outreach"),
            ("UpdateLead", "allowed", b"intake", b""),
            ("UpdateLead", "failed", b"intake", b""),
        ]
        mine = [e for e in entries if lead in e.lead_ids]
        at = 0
        for e in mine:
            if at == len(expected):
                break
            action, outcome, role, purpose = expected[at]
            if (
                e.action == action.encode("ascii")
                and la.OUTCOMES[e.outcome] == outcome
                and e.role == role
                and (not purpose or e.purpose == purpose)
            ):
                say(
                    "    seq %d %s %s (%s%s)"
                    % (
                        e.sequence,
                        action,
                        outcome,
                        role.decode("ascii"),
                        ", purpose " + purpose.decode("ascii") if purpose else "",
                    )
                )
                at += 1
        if at != len(expected):
            action, outcome, role, _ = expected[at]
            raise FlowError(
                "audit: no %s %s entry by %s naming lead %s after the ones above"
                % (action, outcome, role.decode("ascii"), self.lead_id)
            )
        exports = [e for e in entries if e.action == b"ExportAudit"]
        if not exports:
            raise FlowError("audit: the export does not hold its own ExportAudit entry")
        self.step(
            "audit: each step's entry names lead %s, in order; the export's own entry is seq %d"
            % (self.lead_id, exports[-1].sequence)
        )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        default=os.environ.get("LEADVAULT_SERVER") or "127.0.0.1:7443",
        help="leadvaultd address HOST:PORT (default: $LEADVAULT_SERVER or 127.0.0.1:7443)",
    )
    parser.add_argument(
        "--ca",
        default=os.environ.get("LEADVAULT_CA") or "",
        help="connect with TLS trusting this PEM CA file (default: $LEADVAULT_CA; plaintext "
        "without it)",
    )
    parser.add_argument("--cert", default="", help="mutual TLS: PEM client certificate")
    parser.add_argument("--key", default="", help="mutual TLS: PEM private key of --cert")
    parser.add_argument("--capture-token-file", required=True, help="capture principal's token")
    parser.add_argument("--intake-token-file", required=True, help="intake principal's token")
    parser.add_argument(
        "--compliance-token-file", required=True, help="compliance principal's token"
    )
    parser.add_argument(
        "--service-line",
        default="orthopedics",
        help="the lead's service line, one of the intake principal's (default orthopedics)",
    )
    parser.add_argument(
        "--pubkey",
        default="",
        help="the log's verifier key, or a file holding it (default: the daemon's, as "
        "GetCheckpoint returns it)",
    )
    parser.add_argument(
        "-o",
        "--export",
        default="flow-audit.jsonl",
        help="the audit export to write, a new file (default flow-audit.jsonl)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        pb, rpc = import_stubs()
        import grpc

        tokens = {
            "capture": read_token(args.capture_token_file),
            "intake": read_token(args.intake_token_file),
            "compliance": read_token(args.compliance_token_file),
        }
        channel, mode = open_channel(grpc, args)
    except UsageError as e:
        print("leadvault_flow: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    say(
        "leadvault flow against %s (%s) at %s"
        % (args.server, mode, datetime.datetime.now(datetime.timezone.utc).isoformat())
    )
    flow = Flow(grpc, pb, rpc, channel, tokens, args)
    try:
        with channel:
            flow.run()
    except UsageError as e:
        print("leadvault_flow: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except FlowError as e:
        print("leadvault_flow: FAILED after step %d: %s" % (flow.step_number, e), file=sys.stderr)
        return EXIT_FAILED
    say("OK: the flow ran and its audit trail verified")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

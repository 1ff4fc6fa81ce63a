"""A harder set of own questions (issue 27), written before any change of that issue.

Written from the transcripts, the way someone asks who was not there when the
work was done: the answer is a sentence in the assistant's turns (a
conclusion, a fix, a name), rarely in the prompt, and the question does not
copy it. Each has the answer terms a person must *read* in a result for it to
count (what was asked, the passage, its neighbours, the conclusion, the
highlight), and one of six classes:

- ``decision``: what was settled on, and why;
- ``error_fix``: what failed, why, and what fixed it;
- ``identifier``: the name of a function, test, variable or file;
- ``similar``: which of two or more similar sessions (the five "Work on bead
  spotter-..." sessions, the two ``entire resume`` fixes, the two ``explain``
  patches, the shadow-branch investigations) did a particular thing;
- ``summary``: what only a compaction summary ("This session is being
  continued ...") still says;
- ``agents``: sessions of Codex CLI and Gemini CLI, asked in a store that
  holds Claude Code's sessions too.

Corpora: 1 is ``claude-projects``; 3 is ``claude-projects-2`` with
``other-agents/codex`` and ``other-agents/gemini-2`` imported into the same
store (``benchmarks/tune.py``'s ``CORPORA``). Split dev/test by
``splits.half`` like the others; ``tests/test_eval_sets.py`` checks every
answer term is in its session.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CLASSES", "HARDER", "HarderQuestion"]

CLASSES = ("decision", "error_fix", "identifier", "similar", "summary", "agents")


class HarderQuestion(NamedTuple):
    text: str
    session: str
    terms: tuple[str, ...]
    kind: str
    corpus: int


# claude-projects (corpus 1)
DOV = "4d5611e5-241a-462a-8d15-5122611a9569"  # spotter-dov: transcript components
FUM = "8463c716-a2ea-4c14-9efa-87158ebd9f20"  # spotter-fum: renderer, LiveView tests
OTEL = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"  # spotter-4te: OpenTelemetry
A0Y = "fa812bfe-b295-4cca-9c2f-fdf01028cb46"  # spotter-a0y: session registry
GQC = "258c7280-ae70-4798-800f-63464d01a85d"  # spotter-gqc: annotations
# claude-projects-2 (in corpus 3)
EXPLAIN = "0bdbfa06-acf1-473a-b3e4-6a03313d1d0e"
HINT = "70c88cff-cb35-404f-a974-2a08bab4e4bc"
TOKENS = "0cd9edf7-459c-4900-af40-cf2c64dea525"
PR104 = "3b1b6293-65e1-4c3e-9f95-d530143332f2"
LINEAR = "8b418ea5-895d-4ad5-abe8-4489d36e454f"
SESSION_END = "062a8bdd-4322-4ffa-bc38-3e8b8bfb5a56"
SIGNATURE = "2b945d54-dd2b-4f60-b3b0-7b0252349003"
LOGGING = "7505c804-ef06-4be0-a866-480597e6bbc1"
AGENT_TYPE = "e8106766-ab6a-43ed-8849-77d5114eaff1"
GEMINI = "c010174c-a7cd-4bcc-b7d4-61258d6c463f"
NOTE = "78368290-ee0b-474f-8052-bb65a9a581d6"
IGNORE = "acdd84ab-e724-42c8-925d-420b2a4f1861"
TELEMETRY = "cde341db-b80a-44f5-b0f2-94db2ef7a164"
NOTARIZE = "488c5296-fc78-4fdf-8cfd-f1cae9454bd0"
E2E = "4a364c97-9dde-4a98-a973-26edea2c0e8b"
ATTRIBUTION = "4ded0de6-8acf-40a5-ba46-7f9bb1ad903c"
SIMPLIFY = "559081d6-534c-40b9-afeb-5eb72cd84309"
RESUME_FETCH = "86cc3044-7515-43f1-9c25-1444738c64c9"
UTF8 = "97007e37-53bd-4456-9a49-c0f8081081a7"
DUPES = "b00b80af-879f-4265-b95b-48db0938673c"
CONFLICT = "b42aaf1f-96ad-4f7a-9f52-783eb0847649"
GETWD = "deeac353-0765-4439-9056-293619a99172"
WRAPPER = "e4599950-b028-44fb-a2d5-ca8caffa2c3d"
RESUME_MERGE = "efea9d52-9e4f-4189-8bae-4e8049647900"
RESEARCH = "9a9eadc8-c1f1-493e-a0f1-884aa996b05b"
STREAMING = "0fae0449-64d3-4788-8622-d3a47d82c14b"
# other-agents (in corpus 3)
OCODEX = "d7a9e0da-90d6-4fd8-bb06-4f3ccabcdf8a"  # codex: ocodex Dockerfile
WEATHER = "85554d39-882c-4ec2-9c71-b059343e433a"  # codex: wttr.in, a web search
OPK = "c61729d4-da6d-46a4-9a29-ec2c614e5e23"  # codex: opk subcommands
PACKAGES = "97b66f6c-a160-40e0-bd0f-1fdcbbb9498b"  # codex: missing __init__ files
COMPACT = "019e1625-789d-76c0-80ab-3724b5ddb799"  # codex: context compaction default
DEMO = "019e1695-0522-7c83-8b39-0dd379793f80"  # codex: demo prep transcript
STREAM_TEST = "79aa6488-ea85-403e-ab2c-a5567ffad172"  # codex (legacy JSON): a failing test
LEAD = "5b959dae-8655-4cd1-b10f-720b8c336ea2"  # gemini: lead_memory shortened
REVIEW = "37b7abef-713d-4522-85f0-8ff15a4e6d17"  # gemini: repository review, hello.md

HARDER: tuple[HarderQuestion, ...] = tuple(
    HarderQuestion(*q)
    for q in [
        # -- decision
        (
            "when explain can't find the current session, what does it do now instead of an error",
            EXPLAIN,
            ("overview",),
            "decision",
            3,
        ),
        (
            "which claude hook did we use to mark a session as ended, since stop fires every turn",
            SESSION_END,
            ("SessionEnd",),
            "decision",
            3,
        ),
        (
            "should the local-dev wrapper for hooks be installed by default or only when asked",
            WRAPPER,
            ("--local-dev",),
            "decision",
            3,
        ),
        (
            "what was the trade-off of no longer committing to the shadow branch without file changes",  # noqa: E501
            PR104,
            ("rewind point",),
            "decision",
            3,
        ),
        (
            "where does condensation take token usage from now, instead of the accumulated state",
            TOKENS,
            ("sessionData.TokenUsage",),
            "decision",
            3,
        ),
        (
            "after merging main, how does resume now find the checkpoint to resume from",
            RESUME_MERGE,
            ("unique to this branch",),
            "decision",
            3,
        ),
        (
            "what did we end up doing when resume sees session metadata only on the remote",
            RESUME_FETCH,
            ("automatically",),
            "decision",
            3,
        ),
        (
            "how did we get rid of the dialyzer false positive about reading the trace id",
            OTEL,
            ("hex_trace_id",),
            "decision",
            1,
        ),
        (
            "where did the helper script go so that the elixir release ships it",
            A0Y,
            ("priv/scripts",),
            "decision",
            1,
        ),
        (
            "what wording did the comments use instead of naming a release for the removed phase",
            E2E,
            ("1:1 checkpoint model",),
            "decision",
            3,
        ),
        (
            "which model api did we decide langchain would go through when switching models",
            RESEARCH,
            ("/v1/chat/completions",),
            "decision",
            3,
        ),
        # -- error_fix
        (
            "the subagent tests were failing because something was missing from loaded messages, what",  # noqa: E501
            FUM,
            ("agent_id",),
            "error_fix",
            1,
        ),
        (
            "why did the sync idempotency test end up with four messages",
            A0Y,
            ("uuid",),
            "error_fix",
            1,
        ),
        (
            "what change to the message type fixed gemini checkpoints not being created",
            GEMINI,
            ("UnmarshalJSON",),
            "error_fix",
            3,
        ),
        (
            "what kept rejecting our commit of the generated prisma client",
            STREAMING,
            ("lefthook",),
            "error_fix",
            3,
        ),
        (
            "what fixed the agent name falling back to a generic value in manual commit",
            AGENT_TYPE,
            ("resolveAgentType",),
            "error_fix",
            3,
        ),
        (
            "which test file had to change after InitializeSession took the agent type",
            SIGNATURE,
            ("phase_prepare_commit_msg_test.go",),
            "error_fix",
            3,
        ),
        (
            "why did explain lose the kind of error it got back for a missing session",
            EXPLAIN,
            ("fmt.Errorf",),
            "error_fix",
            3,
        ),
        (
            "why was the first session still condensed even though its code was restored away",
            ATTRIBUTION,
            ("FilesTouched",),
            "error_fix",
            3,
        ),
        (
            "how long had the notarization been running when the release job gave up",
            NOTARIZE,
            ("20m2s",),
            "error_fix",
            3,
        ),
        (
            "why did the logging test failure show up in CI but not in the local test run",
            LOGGING,
            ("build tag",),
            "error_fix",
            3,
        ),
        (
            "what was making every command slow to exit even when nothing was sent",
            TELEMETRY,
            ("ShutdownTimeout",),
            "error_fix",
            3,
        ),
        (
            "why did the migration for message refs need to be written by hand on sqlite",
            GQC,
            ("recreate",),
            "error_fix",
            1,
        ),
        # -- identifier
        (
            "what is the helper called that cuts a string to a number of characters safely",
            UTF8,
            ("TruncateRunes",),
            "identifier",
            3,
        ),
        (
            "name of the function that pulls the sessions branch down without switching to it",
            RESUME_FETCH,
            ("FetchMetadataBranch",),
            "identifier",
            3,
        ),
        (
            "which posthog option defaults to ten seconds that we suspected of the delay",
            TELEMETRY,
            ("BatchUploadTimeout",),
            "identifier",
            3,
        ),
        (
            "what did we call the function that looks for a checkpoint among the branch's own commits",  # noqa: E501
            RESUME_MERGE,
            ("findBranchCheckpoint",),
            "identifier",
            3,
        ),
        (
            "what is the e2e test that checks a reset clears the per-turn checkpoint ids",
            E2E,
            ("TestShadow_ResetSession_ClearsTurnCheckpointIDs",),
            "identifier",
            3,
        ),
        (
            "which environment variable makes the hooks use go run",
            WRAPPER,
            ("ENTIRE_LOCAL_DEV",),
            "identifier",
            3,
        ),
        (
            "what error type blocks a session whose id clashes with another's state",
            CONFLICT,
            ("SessionIDConflictError",),
            "identifier",
            3,
        ),
        (
            "what are the shared functions for reading the last timestamp of a transcript called",
            DUPES,
            ("GetLastTimestampFromFile",),
            "identifier",
            3,
        ),
        (
            "which variable did we add to pick the model in the testing agent prototype",
            RESEARCH,
            ("MODEL_NAME",),
            "identifier",
            3,
        ),
        (
            "which tool of the linear mcp server could not attach a doc to an issue",
            LINEAR,
            ("create_document",),
            "identifier",
            3,
        ),
        (
            "which function that made a checkpoint when a subagent started was deleted",
            PR104,
            ("createStartingAgentCheckpoint",),
            "identifier",
            3,
        ),
        (
            "in which function is the message shown at session start assembled",
            NOTE,
            ("handleSessionStartCommon",),
            "identifier",
            3,
        ),
        # -- similar
        (
            "the resume bug where the head commit was a merge with no checkpoint trailer",
            RESUME_MERGE,
            ("merge commit",),
            "similar",
            3,
        ),
        (
            "the resume change that stopped telling people to run a git fetch themselves",
            RESUME_FETCH,
            ("checkRemoteMetadata",),
            "similar",
            3,
        ),
        (
            "the test scenario where one session added password hashing and the other random numbers",  # noqa: E501
            ATTRIBUTION,
            ("get_random_number",),
            "similar",
            3,
        ),
        (
            "the investigation where the base commit went stale after the user committed",
            CONFLICT,
            ("BaseCommit",),
            "similar",
            3,
        ),
        (
            "the explain patch about arguments being silently dropped",
            HINT,
            ("positional",),
            "similar",
            3,
        ),
        (
            "which simplifier pass shrank hook registration to ten lines",
            SIMPLIFY,
            ("89 lines",),
            "similar",
            3,
        ),
        (
            "which simplifier report was about three copies of timestamp parsing",
            DUPES,
            ("GetLastTimestampFromBytes",),
            "similar",
            3,
        ),
        (
            "in which bead did messages lose their agent id on the way out of the database",
            FUM,
            ("load_session_messages",),
            "similar",
            1,
        ),
        (
            "which bead's work had a trace id helper that dialyzer said always errors",
            OTEL,
            ("get_current_trace_id",),
            "similar",
            1,
        ),
        (
            "which bead had a test helper writing session jsonl without ids",
            A0Y,
            ("write_session_jsonl",),
            "similar",
            1,
        ),
        (
            "the gemini work where content came as a list of parts instead of a string",
            GEMINI,
            ("array",),
            "similar",
            3,
        ),
        (
            "the session where the gemini session end parser returned early",
            SESSION_END,
            ("parseGeminiSessionEnd",),
            "similar",
            3,
        ),
        (
            "the review that found the session dir computed from the working directory",
            GETWD,
            ("GetSessionDir",),
            "similar",
            3,
        ),
        (
            "the wingman change that also ignores the review file",
            IGNORE,
            ("REVIEW.md",),
            "similar",
            3,
        ),
        # -- summary
        (
            "how did we configure propagators once the set function turned out not to exist",
            OTEL,
            ("text_map_propagators",),
            "summary",
            1,
        ),
        (
            "how did we fix the BadMapError from the exporter config in the tracing work",
            OTEL,
            ("traces_exporter",),
            "summary",
            1,
        ),
        (
            "why did EndedAt have to be added in two places",
            SESSION_END,
            ("two parallel types",),
            "summary",
            3,
        ),
        (
            "what version did the user say we were actually on during the e2e review",
            E2E,
            ("0.4.4",),
            "summary",
            3,
        ),
        (
            "how did we work around the broken mise shims in the temp repo",
            CONFLICT,
            ("/usr/bin/grep",),
            "summary",
            3,
        ),
        (
            "what does the guidance now say about when to call os.Getwd",
            GETWD,
            ("Almost never",),
            "summary",
            3,
        ),
        (
            "what was wrong with the expected content hash in the e2e checks",
            E2E,
            ("sha256:",),
            "summary",
            3,
        ),
        (
            "what did load_transcript get renamed to in the components refactor",
            DOV,
            ("load_session_data",),
            "summary",
            1,
        ),
        (
            "which helpers were pulled out of the line classifier to satisfy credo's nesting rule",
            FUM,
            ("classify_normal_line",),
            "summary",
            1,
        ),
        (
            "in which file did the shared timestamp helpers end up",
            DUPES,
            ("paths/transcript.go",),
            "summary",
            3,
        ),
        (
            "how did the nesting problem in finding the transcript file get fixed",
            A0Y,
            ("list_subdirectories",),
            "summary",
            1,
        ),
        # -- agents
        (
            "how did we get the ocodex image to build when cargo did not know the package",
            OCODEX,
            ("--bin ocodex",),
            "agents",
            3,
        ),
        (
            "what temperature did the weather lookup from the terminal show",
            WEATHER,
            ("+24",),
            "agents",
            3,
        ),
        (
            "which commands did we add to the opk cli before updating the readme",
            OPK,
            ("workspace init",),
            "agents",
            3,
        ),
        (
            "why could the tests not import the subpackages in codex's session",
            PACKAGES,
            ("__init__.py",),
            "agents",
            3,
        ),
        (
            "where does the compaction default have to go for the opencode adapter",
            COMPACT,
            ("OPENCODE_CONFIG_CONTENT",),
            "agents",
            3,
        ),
        (
            "who was supposed to draft the governance and budgeting demo",
            DEMO,
            ("nikita",),
            "agents",
            3,
        ),
        (
            "which cli stream test failed and what did it expect in stdout",
            STREAM_TEST,
            ("fixture hello",),
            "agents",
            3,
        ),
        (
            "what did gemini name the shorter copy of the lead instructions",
            LEAD,
            ("lead_gemini.txt",),
            "agents",
            3,
        ),
        (
            "what did gemini suggest instead of hardcoding the plugins",
            REVIEW,
            ("dynamically load plugins",),
            "agents",
            3,
        ),
        (
            "which sentence stayed first in hello.md after lines were removed",
            REVIEW,
            ("Sphinx of black quartz",),
            "agents",
            3,
        ),
    ]
)

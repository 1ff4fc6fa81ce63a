"""Questions about the second shared corpus (``claude-projects-2``: other people, newer versions).

Written for issue 14 before any tuning, by reading the transcripts and asking
the way a developer asks later, in their own words; not by copying sentences.
Each has a class, one of the failure classes seen on held-out questions:

- ``decision``: what was decided or concluded ("what did we settle on ...");
- ``asked``: where the person asked, told or complained ("where did I ...");
- ``failure``: why something failed and what fixed it;
- ``finding``: what a review, subagent or investigation found;
- ``fact``: a concrete detail (a value, a name, a file);
- ``summary``: what only a compaction summary still says (errors met, what
  was pending when the context ran out).

``MORE_QUESTIONS_1`` asks about the first corpus (``claude-projects``) in the
classes its 64 original questions (``eval_set.py``) lack: compaction summaries,
subagent and exploration reports. Together with ``QUESTIONS_2`` and those 64,
the project's own set reaches 150 (the 12 cross-lingual ones apart).

Answer terms (case-insensitive) must appear in what a hit from that session
shows (chunk, neighbours, prompt) for the answer to count as found; a test
checks that each term occurs in its session at all. All 151 are split once,
by a fixed seed, into dev and test (``splits.py``, ``own.py``).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CLASSES", "CORPUS_NAME", "MORE_QUESTIONS_1", "QUESTIONS_2", "ClassedQuestion"]

CORPUS_NAME = "claude-projects-2"
CLASSES = ("decision", "asked", "failure", "finding", "fact", "summary")


class ClassedQuestion(NamedTuple):
    text: str
    session: str
    terms: tuple[str, ...]
    kind: str


EXPLAIN = "0bdbfa06-acf1-473a-b3e4-6a03313d1d0e"  # entire explain: session not found
PARALLEL = "0c97beba-bfcb-4f84-9950-e0354bfc808b"  # main failing: t.Parallel with os.Chdir
TOKENS = "0cd9edf7-459c-4900-af40-cf2c64dea525"  # manual commit: token usage, transcript lines
CODEOWNERS = "1b3e6441-62e3-4b41-8a0c-9d252f531f7a"  # a CODEOWNERS file
PR104 = "3b1b6293-65e1-4c3e-9f95-d530143332f2"  # reviewing PR 104: task start checkpoints
HINT = "70c88cff-cb35-404f-a974-2a08bab4e4bc"  # explain: help on a bare argument, a hint
LINEAR = "8b418ea5-895d-4ad5-abe8-4489d36e454f"  # ENT-98 in Linear: help.go move, documents
SESSION_END = "062a8bdd-4322-4ffa-bc38-3e8b8bfb5a56"  # session end hooks, claude and gemini
LOGGING = "7505c804-ef06-4be0-a866-480597e6bbc1"  # one log file per worktree
AGENT_TYPE = "e8106766-ab6a-43ed-8849-77d5114eaff1"  # ENT-207: agent type shown as "Agent"
GEESE = "6da7d497-00e2-460d-a6b4-d280e0314cfd"  # a throwaway file about geese
GEMINI = "c010174c-a7cd-4bcc-b7d4-61258d6c463f"  # gemini transcript parsing, PR 342 vs 343
WINGMAN_NOTE = "78368290-ee0b-474f-8052-bb65a9a581d6"  # "Powered by Entire" note for wingman
WINGMAN_IGNORE = "acdd84ab-e724-42c8-925d-420b2a4f1861"  # wingman files in .gitignore
STRIPE = "9265dc4e-fa94-4c08-9932-fca495724501"  # a fake Stripe key for gitleaks
NOLINT = "9d440bfc-a64f-43be-aa10-10a3764a59ea"  # unparam: nolint directives
TELEMETRY = "cde341db-b80a-44f5-b0f2-94db2ef7a164"  # slow exit: PostHog telemetry
SESSION_LIST = "3a782158-6c7c-4d4d-9c73-eae031da5b18"  # session list: commit messages, branches
NOTARIZE = "488c5296-fc78-4fdf-8cfd-f1cae9454bd0"  # release: macOS notarization timeout
E2E = "4a364c97-9dde-4a98-a973-26edea2c0e8b"  # reviewing integration and e2e tests
SHADOW = "4ded0de6-8acf-40a5-ba46-7f9bb1ad903c"  # attribution script, shadow branch suffixes
SIMPLIFY = "559081d6-534c-40b9-afeb-5eb72cd84309"  # code-simplifier on OpenCode integration
RESUME_FETCH = "86cc3044-7515-43f1-9c25-1444738c64c9"  # resume fetching entire/sessions
UTF8 = "97007e37-53bd-4456-9a49-c0f8081081a7"  # byte truncation breaking UTF-8
DUPES = "b00b80af-879f-4265-b95b-48db0938673c"  # duplicate timestamp code, ListSessions bug
ORPHAN = "b42aaf1f-96ad-4f7a-9f52-783eb0847649"  # shadow branch from a different session
GO_VERSION = "bc3bf53b-19fe-4209-b30a-a1acffaf6703"  # go 1.25.6
GETWD = "deeac353-0765-4439-9056-293619a99172"  # cwd bugs, os.Getwd lint rule
WRAPPER = "e4599950-b028-44fb-a2d5-ca8caffa2c3d"  # local-dev hooks wrapper script
RESUME_MERGE = "efea9d52-9e4f-4189-8bae-4e8049647900"  # resume after merging main
TENTATIVE = "67a8478e-78dc-44ab-82ea-f65c8ead85f6"  # Claude asking before doing
CI_WORKTREE = "0fae0449-64d3-4788-8622-d3a47d82c14b"  # CI checking the wrong branch
FIX_SIGNATURE = "2b945d54-dd2b-4f60-b3b0-7b0252349003"  # lint and test failures
SUBFOLDER = "5a3bb1c8-c3ce-466e-b487-24212cbf1da1"  # no checkpoints from a subfolder
REDACTION_TEST = "9b76dc0f-dc1b-4822-ac56-53cfa3fbc032"  # trying the redaction feature
RESEARCH = "9a9eadc8-c1f1-493e-a0f1-884aa996b05b"  # agent-driven testing research
TOOLS_TEST = "c45af7b1-cb7c-4e51-93db-8cbb250a877a"  # trying out tools in a workspace

QUESTIONS_2: tuple[ClassedQuestion, ...] = tuple(
    ClassedQuestion(*q)
    for q in [
        # -- decision
        (
            "for the flaky agent detection tests, which fix did we go with and why",
            PARALLEL,
            ("t.Parallel",),
            "decision",
        ),
        (
            "what did we decide to show in the branch column when the commit was already merged?",
            SESSION_LIST,
            ("was feature/add-license",),
            "decision",
        ),
        (
            "how wide did we make the branch column in the session list",
            SESSION_LIST,
            ("30",),
            "decision",
        ),
        (
            "what notarization timeout did we settle on for the mac release",
            NOTARIZE,
            ("45m",),
            "decision",
        ),
        (
            "did we keep the unused parameters that the linter complained about?",
            NOLINT,
            ("nolint:unparam",),
            "decision",
        ),
        (
            "where do the hook logs go now, one file per session or per worktree?",
            LOGGING,
            ("entire.log",),
            "decision",
        ),
        (
            "what lint rule did we add so nobody calls the working directory function again",
            GETWD,
            ("forbidigo",),
            "decision",
        ),
        (
            "which helper picks the agent type when the session state is missing",
            AGENT_TYPE,
            ("resolveAgentType",),
            "decision",
        ),
        (
            "what did we name the package for rune-safe truncation",
            UTF8,
            ("stringutil",),
            "decision",
        ),
        (
            "what flag did resume get to skip the confirmation for an older checkpoint",
            RESUME_MERGE,
            ("--force",),
            "decision",
        ),
        # -- asked
        (
            "where did I complain that the CLI takes a few hundred milliseconds before my prompt "
            "comes back?",
            TELEMETRY,
            ("flame graph",),
            "asked",
        ),
        (
            "when did I tell claude it keeps asking for permission instead of just fixing things",
            TENTATIVE,
            ("tentative",),
            "asked",
        ),
        (
            "where did I ask for a gitleaks test value to be added to a secrets file",
            STRIPE,
            ("STRIPE_PUBLISHABLE_KEY",),
            "asked",
        ),
        (
            "I asked for a retry on the notarization step",
            NOTARIZE,
            ("retry",),
            "asked",
        ),
        (
            "where did I say the e2e tests only check that the checkpoints branch exists",
            E2E,
            ("ExpectedTranscriptContent",),
            "asked",
        ),
        (
            "when did I say the wingman lock and state files should be ignored by git "
            "automatically, not by hand",
            WINGMAN_IGNORE,
            ("EnsureEntireGitignore",),
            "asked",
        ),
        (
            "the session where I asked for a file about geese and then had it deleted",
            GEESE,
            ("geese.md",),
            "asked",
        ),
        (
            "where did I ask to bump go to the latest patch version everywhere",
            GO_VERSION,
            ("1.25.6",),
            "asked",
        ),
        (
            "where did I want the linear working doc attached to the issue instead of the project",
            LINEAR,
            ("create_document",),
            "asked",
        ),
        (
            "when did I ask for a note about wingman in the session start message",
            WINGMAN_NOTE,
            ("Powered by Entire",),
            "asked",
        ),
        # -- failure
        (
            "why did entire explain fail with session not found",
            EXPLAIN,
            ("no checkpoints",),
            "failure",
        ),
        (
            "why were tests on main failing, the ones that change directory",
            PARALLEL,
            ("os.Chdir",),
            "failure",
        ),
        (
            "why did the first manual commit of a new session miss the transcript position fields",
            TOKENS,
            ("omitempty",),
            "failure",
        ),
        (
            "why did the build fail in CI after the logging change when tests passed locally?",
            LOGGING,
            ("integration",),
            "failure",
        ),
        (
            "why was the agent shown as the generic 'Agent' instead of Claude Code",
            AGENT_TYPE,
            ("DefaultAgentType",),
            "failure",
        ),
        (
            "why was gemini checkpointing broken?",
            GEMINI,
            ("GeminiMessage",),
            "failure",
        ),
        (
            "why was the CLI slow to exit until telemetry was turned off",
            TELEMETRY,
            ("ShutdownTimeout",),
            "failure",
        ),
        (
            "why did the release fail on signing the mac binaries",
            NOTARIZE,
            ("notariz",),
            "failure",
        ),
        (
            "why did two sessions end up writing to the same shadow branch",
            SHADOW,
            ("handleLegacySuffix",),
            "failure",
        ),
        (
            "why did resume print its help text after an error",
            RESUME_FETCH,
            ("SilenceUsage",),
            "failure",
        ),
        (
            "why was an archived session missing from the session list",
            DUPES,
            ("SessionIDs",),
            "failure",
        ),
        (
            "why did resume not find any checkpoint after I merged main into my branch",
            RESUME_MERGE,
            ("merge-base",),
            "failure",
        ),
        (
            "why was CI checking main instead of my branch in the worktree",
            CI_WORKTREE,
            ("worktree",),
            "failure",
        ),
        # -- finding
        (
            "what did the review of PR 104 find about the task start checkpoints",
            PR104,
            ("SaveTaskCheckpoint",),
            "finding",
        ),
        (
            "how did Stefan's gemini e2e tests pass without fixing the parsing?",
            GEMINI,
            ("PrepareCommitMsg",),
            "finding",
        ),
        (
            "what did the code simplifier change in the OpenCode integration",
            SIMPLIFY,
            ("registerHookWithEnabledCheck",),
            "finding",
        ),
        (
            "does go's standard library already truncate strings by runes?",
            UTF8,
            ("strings.Title",),
            "finding",
        ),
        (
            "what was creating empty commits on the shadow branch before a subagent ran",
            ORPHAN,
            ("createStartingAgentCheckpoint",),
            "finding",
        ),
        (
            "what did the bugbot flag about concurrent active sessions",
            GEMINI,
            ("StepCount",),
            "finding",
        ),
        (
            "does a local settings file override the hooks from the shared one?",
            WRAPPER,
            ("settings.local.json",),
            "finding",
        ),
        # -- fact
        (
            "who owns all the files by default in the repository",
            CODEOWNERS,
            ("cli-maintainers",),
            "fact",
        ),
        (
            "which env variable turns on the go runtime trace for startup",
            TELEMETRY,
            ("ENTIRE_TRACE",),
            "fact",
        ),
        (
            "which hook events do claude and gemini use when the user closes the chat",
            SESSION_END,
            ("SessionEnd",),
            "fact",
        ),
        (
            "what does explain print when given an id without a flag",
            HINT,
            ("--checkpoint",),
            "fact",
        ),
        (
            "which PR added token usage to the manual commit strategy",
            TOKENS,
            ("PR#68",),
            "fact",
        ),
        (
            "what prefix does the local dev wrapper hook command start with",
            WRAPPER,
            ("entire-wrapper.sh",),
            "fact",
        ),
        # -- more of the second corpus
        (
            "which field did I want the session end hook to set in our session state files?",
            SESSION_END,
            ("ended_at",),
            "asked",
        ),
        (
            "which constant names the session end hook for claude code",
            SESSION_END,
            ("HookNameSessionEnd",),
            "fact",
        ),
        (
            "what did the reviewer conclude about the explain help change",
            HINT,
            ("APPROVE",),
            "finding",
        ),
        (
            "which function's new signature broke the prepare commit message test?",
            FIX_SIGNATURE,
            ("InitializeSession",),
            "failure",
        ),
        (
            "checkpoints are not created when I start claude from a subfolder",
            SUBFOLDER,
            ("subdirectories",),
            "asked",
        ),
        (
            "where did I try out the secret redaction by having a markdown file of secrets written",
            REDACTION_TEST,
            ("SECRETS.md",),
            "asked",
        ),
        (
            "why link sessions to commits with a trailer rather than the commit hash?",
            SESSION_LIST,
            ("Entire-Checkpoint",),
            "decision",
        ),
        (
            "which e2e scenario covers a user splitting the work into two commits",
            E2E,
            ("Scenario4",),
            "fact",
        ),
        (
            "the review assumed an old release version before I said we are on 0.4.4",
            E2E,
            ("v0.3.0",),
            "asked",
        ),
        (
            "what file did we write up the abandoned session bug in for later",
            SHADOW,
            ("wip-abandoned-session-bug.md",),
            "fact",
        ),
        (
            "how much shorter did the simplifier make the OpenCode code?",
            SIMPLIFY,
            ("71 lines",),
            "finding",
        ),
        (
            "which error type keeps resume from printing the same error twice",
            RESUME_FETCH,
            ("SilentError",),
            "decision",
        ),
        (
            "a coworker got stuck because the shadow branch had checkpoints from another session",
            ORPHAN,
            ("different session",),
            "asked",
        ),
        (
            "did CLAUDE.md already explain repo root versus the current directory?",
            GETWD,
            ("Repo Root vs Current Working Directory",),
            "finding",
        ),
        (
            "how fast does a command finish with telemetry switched off",
            TELEMETRY,
            ("15ms",),
            "fact",
        ),
        (
            "which sample app did we pick for the first agent-driven web test",
            RESEARCH,
            ("todomvc",),
            "decision",
        ),
        (
            "the test session where I had a missing file printed to see the error",
            TOOLS_TEST,
            ("nonexistent.txt",),
            "asked",
        ),
        (
            "which two files were written at the same time in the multi-tool demo?",
            TOOLS_TEST,
            ("number_generator.py",),
            "fact",
        ),
    ]
)

# -- the first corpus: compaction summaries and subagent reports
WWII = "b3edadab-bca0-4054-9b41-f7ffa6941260"
GQC = "258c7280-ae70-4798-800f-63464d01a85d"
DOV = "4d5611e5-241a-462a-8d15-5122611a9569"
EXPLORE = "6c2214d7-b87e-4432-8e41-22ba294ea584"
FUM = "8463c716-a2ea-4c14-9efa-87158ebd9f20"
OTEL = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"
A0Y = "fa812bfe-b295-4cca-9c2f-fdf01028cb46"
PKG = "5c0375b4-57a5-4f26-b12d-d022ee4e51b7"
QUALITY = "491e126e-1e71-469c-ade2-fcc8af567c74"

MORE_QUESTIONS_1: tuple[ClassedQuestion, ...] = tuple(
    ClassedQuestion(*q)
    for q in [
        (
            "credo did not like checking the length of the message id list in a guard; what "
            "did we write instead?",
            GQC,
            ("[_ | _]",),
            "summary",
        ),
        (
            "which test-only dependency did the first LiveView tests need?",
            GQC,
            ("lazy_html",),
            "summary",
        ),
        (
            "spark refused to accept the state field on the annotation update",
            GQC,
            ("attribute :state",),
            "summary",
        ),
        (
            "what was still in progress on the annotations epic when the context ran out",
            GQC,
            ("spotter-gqc.6",),
            "summary",
        ),
        (
            "what was left on the debug json sidecar task when the context ran out?",
            DOV,
            ("toggle_debug",),
            "summary",
        ),
        (
            "how did the explore agent say session live loads its messages",
            DOV,
            ("load_session_messages",),
            "finding",
        ),
        (
            "credo said the line classifier in the renderer was nested too deep",
            FUM,
            ("classify_normal_line",),
            "summary",
        ),
        (
            "which library did we add to highlight code blocks in the transcript view",
            FUM,
            ("highlight.js",),
            "summary",
        ),
        (
            "what thread key does the renderer give a tool result it cannot pair with a call",
            FUM,
            ("unmatched-result",),
            "summary",
        ),
        (
            "how did we set the trace propagators once the function for it turned out not to exist",
            OTEL,
            ("app environment",),
            "summary",
        ),
        (
            "the processor config for the trace exporter crashed with a bad map",
            OTEL,
            ("traces_exporter: :stdout",),
            "summary",
        ),
        (
            "which tracing task was closed in beads but never committed?",
            OTEL,
            ("spotter-4te.3",),
            "summary",
        ),
        (
            "what holds the registry of active sessions in memory",
            A0Y,
            ("ETS",),
            "summary",
        ),
        (
            "which endpoint receives the session end hook",
            A0Y,
            ("/api/hooks/session-end",),
            "summary",
        ),
        (
            "how many sessions per directory does one transcript sync handle at most?",
            A0Y,
            ("max_sessions_per_sync",),
            "finding",
        ),
        (
            "which identity lets a message be upserted instead of inserted twice",
            A0Y,
            ("unique_session_uuid",),
            "summary",
        ),
        (
            "the helper agent that greeted me by a nickname in the test chat",
            WWII,
            ("Okarin",),
            "finding",
        ),
        (
            "which tailwind version did the package review find in the todo demo?",
            PKG,
            ("Tailwind CSS: ^4",),
            "finding",
        ),
        (
            "which version of the icon library does the demo's package.json pin",
            PKG,
            ("0.542.0",),
            "finding",
        ),
        (
            "which data layer does spotter use for ash, according to the dependency exploration",
            EXPLORE,
            ("ash_sqlite",),
            "finding",
        ),
        (
            "does spotter expose its ash resources as a JSON API?",
            EXPLORE,
            ("ash_json_api",),
            "finding",
        ),
        (
            "did the research find ready-made igniter installers for credo and dialyxir?",
            QUALITY,
            ("No Igniter installers",),
            "finding",
        ),
        (
            "what did we find about the pre-task hook for subagents before removing it",
            GQC,
            ("SessionStart",),
            "finding",
        ),
    ]
)

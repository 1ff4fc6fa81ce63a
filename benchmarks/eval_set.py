"""Questions about the shared corpus, asked the way a developer asks months later.

Each entry: the question, the session that answers it, and one to three
answer terms (case-insensitive) that must appear in the text a search
returns for a hit from that session (its chunk, the chunk's neighbours and
the prompt it answered) for the answer to count as found. Written by reading
the transcripts, not by copying their sentences; the last group asks in
Japanese about English sessions (cross-lingual).

Used by ``benchmarks/retrieval.py`` and ``benchmarks/models.py``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CROSS_LINGUAL", "QUESTIONS", "Question"]


class Question(NamedTuple):
    text: str
    session: str
    terms: tuple[str, ...]


WWII = "b3edadab-bca0-4054-9b41-f7ffa6941260"  # a test conversation, and a causal chain
GQC = "258c7280-ae70-4798-800f-63464d01a85d"  # spotter-gqc: annotations, project review
DOV = "4d5611e5-241a-462a-8d15-5122611a9569"  # spotter-dov: shared transcript components
EXPLORE = "6c2214d7-b87e-4432-8e41-22ba294ea584"  # exploring the project's dependencies
FUM = "8463c716-a2ea-4c14-9efa-87158ebd9f20"  # spotter-fum: renderer metadata, LiveView tests
OTEL = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"  # spotter-4te: OpenTelemetry tracing
A0Y = "fa812bfe-b295-4cca-9c2f-fdf01028cb46"  # spotter-a0y: session registry, live tail
QUALITY = "491e126e-1e71-469c-ade2-fcc8af567c74"  # planning credo/dialyxir beads
XTERM = "d6e0bada-1959-4eec-a9d2-0bfade768d8f"  # phoenix in background, xterm scrolling
SHORT = "55604662-cf2a-4331-851a-ec234028f8ca"  # phx.server does not start
EMPTY = "1af7fc5e-8455-4414-9ccd-011d40f70b2a"  # CLAUDE.md for an empty repository
PKG = "5c0375b4-57a5-4f26-b12d-d022ee4e51b7"  # package.json review, CLAUDE.md refresh
TODO = "fe5e1c67-53e7-4862-81ae-d0e013e3270b"  # building a Next.js TODO app

QUESTIONS: tuple[Question, ...] = tuple(
    Question(*q)
    for q in [
        (
            "when did I ask for a cause-and-effect chain from today back to world war two?",
            WWII,
            ("Turing",),
        ),
        (
            "the test chat where a sub agent appended its own section to a text file",
            WWII,
            ("Added by Task Agent",),
        ),
        (
            "I was testing reverting only the conversation, not the files",
            WWII,
            ("Conversation Revert",),
        ),
        (
            "what does a SessionStart hook print on stdout to add context to the session?",
            GQC,
            ("additionalContext",),
        ),
        (
            "why couldn't we keep the generated migration for the annotation message references?",
            GQC,
            ("SQLite",),
        ),
        (
            "where did we keep the one-time tokens for opening a review conversation?",
            GQC,
            ("ReviewTokenStore",),
        ),
        (
            "how do we close every open annotation of a project review in one go?",
            GQC,
            ("close_review_session",),
        ),
        ("which port does the spotter dev server listen on?", GQC, ("1100",)),
        (
            "the new resource linking an annotation to transcript messages",
            GQC,
            ("AnnotationMessageRef",),
        ),
        ("how many tests were green when the annotations epic was finished?", GQC, ("87 tests",)),
        ("adding a NOT NULL column without a default broke on existing rows", GQC, ("default",)),
        (
            "which module did we create for the shared transcript HEEx markup?",
            DOV,
            ("TranscriptComponents",),
        ),
        (
            "the commit hook kept failing on old dialyzer errors in files I never touched",
            DOV,
            ("waiting_summary",),
        ),
        ("what shape does the error from LLMChain.run have?", DOV, ("LLMChain",)),
        ("how did we guess the syntax highlighting language of Read results?", DOV, ("extension",)),
        (
            "selection and highlighting hooks got merged into one, which one survived?",
            DOV,
            ("TranscriptHighlighter",),
        ),
        ("dialyzer said a guard in the subagent live view can never fail", DOV, ("guard_fail",)),
        (
            "did we drop the cap of five lines on tool output in the transcript?",
            DOV,
            ("truncation",),
        ),
        (
            "how many tests passed after extracting the shared transcript presentation?",
            DOV,
            ("397",),
        ),
        (
            "what does listing tmux panes return when tmux isn't running?",
            FUM,
            ("list_panes", "error"),
        ),
        (
            "bug: the agent id got lost when loading a session's messages",
            FUM,
            ("load_session_messages",),
        ),
        ("LiveView tests could not see the database rows from the test process", FUM, ("sandbox",)),
        (
            "which commit enriched the renderer with thread keys and render modes?",
            FUM,
            ("3bb8701",),
        ),
        (
            "how many javascript tests did vitest run for highlighting and the terminal?",
            FUM,
            ("12 highlight",),
        ),
        ("the test environment lacked the endpoint config", FUM, ("secret_key_base",)),
        (
            "the total when all ExUnit tests and doctests passed for the renderer epic",
            FUM,
            ("141",),
        ),
        ("the xterm stylesheet is ignored by git but still tracked?", FUM, ("xterm.css",)),
        (
            "what version constraint did we choose for the OpenTelemetry API package?",
            OTEL,
            ("1.5",),
        ),
        (
            "dialyzer complained that the trace id helper only ever returns :error",
            OTEL,
            ("get_current_trace_id",),
        ),
        ("what does the tracer's current span context call really return?", OTEL, ("span_ctx",)),
        (
            "how is the trace passed from the plugin hook scripts to the server?",
            OTEL,
            ("traceparent",),
        ),
        ("our span macro choked on a do block", OTEL, ("with_span",)),
        ("which background worker got wrapped in its own span?", OTEL, ("EnrichCommits",)),
        ("where is the exporter for traces configured?", OTEL, ("traces_exporter",)),
        ("credo flagged the tool call function as too complex", OTEL, ("cyclomatic",)),
        ("tracing for the Ash framework's actions", OTEL, ("opentelemetry_ash",)),
        (
            "how often are stale sessions swept from the active registry, and after how long?",
            A0Y,
            ("15s", "90s"),
        ),
        (
            "the compiler thinks an alias is unused when it only appears in a rescue",
            A0Y,
            ("rescue",),
        ),
        ("re-syncing one session wrote every message twice", A0Y, ("upsert",)),
        ("where does the tail wrapper script have to live to be packaged?", A0Y, ("priv/scripts",)),
        ("how many JSONL records does the sync job create per batch?", A0Y, ("500",)),
        (
            "the tail adapter that follows a transcript with an external process",
            A0Y,
            ("Port.open",),
        ),
        (
            "the sessions table and its subagent rows had a different column count",
            A0Y,
            ("8 columns",),
        ),
        (
            "our stylesheet is gitignored yet committed; how do changes get staged?",
            A0Y,
            ("spotter.css",),
        ),
        ("which Ash version was installed in the spotter project?", EXPLORE, ("3.16",)),
        (
            "which Phoenix integration package for Ash does spotter depend on?",
            EXPLORE,
            ("ash_phoenix",),
        ),
        (
            "plan for static analysis, type checking and dependency audits in spotter",
            QUALITY,
            ("mix_audit",),
        ),
        ("can the code quality tools be installed with an igniter task?", QUALITY, ("Igniter",)),
        ("the epic id for setting up the quality tools", QUALITY, ("spotter-0p7",)),
        ("run the phoenix server in the background", XTERM, ("phx.server",)),
        ("mouse wheel scrolling does not reach the terminal in the browser", XTERM, ("xterm",)),
        ("the terminal channel join was refused in the server log", XTERM, ("REFUSED JOIN",)),
        ("the dev server wouldn't start and I rejected the tool call", SHORT, ("phx.server",)),
        ("a CLAUDE.md written for a repository with no files yet", EMPTY, ("CLAUDE.md",)),
        ("which Next.js version is the demo on?", PKG, ("15.5.2",)),
        ("an npm script the docs mentioned that does not exist", PKG, ("type-check",)),
        ("what React version does the demo use?", PKG, ("19.1.0",)),
        (
            "components and types exist twice, at the root and inside the app folder",
            PKG,
            ("dual structure",),
        ),
        ("how do todos survive a page reload?", TODO, ("localStorage",)),
        ("which icon package did we add to the todo app?", TODO, ("lucide-react",)),
        ("does the todos hook use a reducer?", TODO, ("useReducer",)),
        ("which port did the todo app's dev server end up on?", TODO, ("3001",)),
        (
            "the app folder used title and a status type instead of text and a filter",
            TODO,
            ("TodoStatus",),
        ),
        (
            "the command that scaffolded the next app with typescript and tailwind",
            TODO,
            ("create-next-app",),
        ),
    ]
)

#: Questions in Japanese about English sessions: a multilingual model's test.
CROSS_LINGUAL: tuple[Question, ...] = tuple(
    Question(*q)
    for q in [
        ("第二次世界大戦から現在までの因果関係の連鎖", WWII, ("Turing",)),
        ("SessionStartフックで標準出力にコンテキストを追加する方法", GQC, ("additionalContext",)),
        ("tmuxが起動していないときペイン一覧はどうなる?", FUM, ("list_panes",)),
        (
            "OpenTelemetryのトレースをプラグインのフックからサーバーへ伝える方法",
            OTEL,
            ("traceparent",),
        ),
        ("古いセッションを掃除する間隔とタイムアウト", A0Y, ("15s",)),
        ("ToDoをページ再読み込み後も保持する方法", TODO, ("localStorage",)),
        ("ToDoアプリに追加したアイコンのパッケージ", TODO, ("lucide-react",)),
        ("デモで使っているNext.jsのバージョン", PKG, ("15.5.2",)),
        ("ブラウザのターミナルでスクロールが効かない", XTERM, ("xterm",)),
        ("コード品質ツールの導入計画", QUALITY, ("mix_audit",)),
        ("空のリポジトリのためのCLAUDE.md", EMPTY, ("CLAUDE.md",)),
        ("マイグレーションでSQLiteが対応していない変更", GQC, ("SQLite",)),
    ]
)

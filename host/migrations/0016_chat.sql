-- The chat (issue 14): conversations and their messages. A message's tool uses and proposals are kept
-- whole as JSON (the wire `ChatToolUse` / `ChatProposal` lists); usage is set on assistant messages.
-- Deleting a conversation deletes its messages. Numbered 0016: 0015 is the onboarding's.
CREATE TABLE chat_conversations (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    service     TEXT,
    model       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX chat_conversations_updated ON chat_conversations (updated_at);

CREATE TABLE chat_messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation   TEXT NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    role           TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    content        TEXT NOT NULL,
    tools          TEXT NOT NULL DEFAULT '[]',
    proposals      TEXT NOT NULL DEFAULT '[]',
    input_tokens   INTEGER,
    output_tokens  INTEGER,
    created_at     TEXT NOT NULL
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation, id);

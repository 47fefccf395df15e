//! Types of the TCP control port (`control`): requests are lines, responses one JSON object per line.


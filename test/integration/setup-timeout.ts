// Integration tests talk to a real server and spawn real processes: allow them time.
jest.setTimeout(60_000);

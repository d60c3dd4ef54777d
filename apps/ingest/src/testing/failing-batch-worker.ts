// A batch reader thread that fails as it loads, for batch-reader.test.ts.
throw new Error("reader thread broken");

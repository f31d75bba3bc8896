// Property tests start local servers per case and the real-day replays read a whole day: 5 s (Jest's default) is too
// little when the integration files share the CPUs. A project's own `testTimeout` is not applied (Jest reads it from
// the global config only), so it is set here, where the integration project sets its own.
jest.setTimeout(30_000);

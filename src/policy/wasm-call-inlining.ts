import v8 from "node:v8";

/**
 * Turns off V8's inlining of JS-to-Wasm calls into optimized code, in every process that loads the Cedar engine
 * (the gateway, `latch policy replay`, tests): create-cedar-engine.ts calls it when it is loaded. On Node 20 (V8 11.3) a
 * lazy deoptimization of optimized code that inlined the call into the Cedar engine's WebAssembly (the
 * engine's `evaluate`, after a GC drops code it depended on) can abort the process with "Fatal error ...
 * unreachable code" (Deoptimizer::DoComputeBuiltinContinuation): seen on 1 in 4 to 2 in 3 runs of
 * `latch policy replay` and bench/policy-replay.ts over 100 000 events, never in 10 runs with inlining off.
 * Cedar's evaluation costs tens of microseconds, so the call's wrapper is noise. Set before the engines'
 * callers are optimized (flags read when TurboFan compiles); idempotent.
 */
export function disableWasmCallInlining(): void {
  v8.setFlagsFromString("--no-turbo-inline-js-wasm-calls");
}

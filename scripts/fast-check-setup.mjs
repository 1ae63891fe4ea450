// Loaded before every test file (scripts/run-tests.mjs passes it with --import).
//
// npm test runs every fast-check property from one fixed seed, so that CI is
// reproducible: the same commit passes or fails the same way on every run. The soak run
// (npm run test:soak) explores instead: a fresh seed per run and ten times the runs.
// Either way a failing property prints its seed; replay it with
//   DISTKIT_FAST_CHECK_SEED=<seed> node scripts/run-tests.mjs <test file>
import fc from 'fast-check';

const explicitSeed = process.env.DISTKIT_FAST_CHECK_SEED;
if (explicitSeed !== undefined && explicitSeed !== '') {
  fc.configureGlobal({ seed: Number(explicitSeed) });
} else if (process.env.DISTKIT_FAST_CHECK_MODE === 'explore') {
  fc.configureGlobal({ numRuns: 1_000 });
} else {
  fc.configureGlobal({ seed: 20_261_122 });
}

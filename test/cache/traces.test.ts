import { traceNames } from './trace-files.js';
import { describeTraceSuites } from './trace-suites.js';

// Every shared trace but cache2k-orm-busy (5,000,000 accesses), which runs in
// traces.soak.ts (`npm run test:soak`).
describeTraceSuites(traceNames.filter((name) => name !== 'cache2k-orm-busy'));

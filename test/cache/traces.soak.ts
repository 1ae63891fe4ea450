import { describeTraceSuites } from './trace-suites.js';

// cache2k-orm-busy: 5,000,000 accesses, too long for the unit run (decoding, the
// reference LRU and OPT, and every policy take about 30 s on two busy cores, distkit's LFU
// most of it). The same suites as traces.test.ts.
describeTraceSuites(['cache2k-orm-busy']);

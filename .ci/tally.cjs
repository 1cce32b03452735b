// Prints the one closing line CI reads ("N passed, N failed"): vitest's JSON report plus the end-to-end test's
// own tally line, with every failed CI step (install, build, type-check, lint) counted as a failure too; exits
// non-zero if anything failed.
const fs = require('node:fs');
const [reportPath, e2eLogPath, ...failedSteps] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
if (fs.existsSync(reportPath)) {
  const report = JSON.parse(fs.readFileSync(reportPath, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  skipped = report.numPendingTests + report.numTodoTests;
  // A suite that fails to load has no failed tests but must still fail the run.
  const brokenSuites = report.testResults.filter((r) => r.status === 'failed' && r.assertionResults.length === 0);
  for (const s of brokenSuites) console.log(`suite failed to run: ${s.name}: ${s.message}`);
  failed += brokenSuites.length;
} else {
  console.log(`no test report at ${reportPath}`);
  failed += 1;
}
const e2eLine = fs.existsSync(e2eLogPath)
  ? fs
      .readFileSync(e2eLogPath, 'utf8')
      .split('\n')
      .reverse()
      .find((l) => /^\d+ passed, \d+ failed/.test(l.trim()))
  : undefined;
if (e2eLine) {
  const [, p, f] = e2eLine.trim().match(/^(\d+) passed, (\d+) failed/);
  console.log(`end to end: ${e2eLine.trim()}`);
  passed += Number(p);
  failed += Number(f);
} else {
  console.log('end to end: no tally line (the end-to-end test did not run to its end)');
  failed += 1;
}
for (const s of failedSteps) console.log(`CI step failed: ${s}`);
failed += failedSteps.filter((s) => s !== 'test' && s !== 'test:e2e').length;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

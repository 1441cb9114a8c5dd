/**
 * Remove the containers the UI tests started (realm remoteapp-uitest).
 */
const { execSync } = require('child_process');

module.exports = async () => {
  const filter =
    'label=eu.simphony-project.docker.runinfo.realm=remoteapp-uitest';
  try {
    const ids = execSync(`docker ps -aq --filter ${filter}`)
      .toString()
      .split(/\s+/)
      .filter(Boolean);
    if (ids.length > 0) {
      execSync(`docker rm -f ${ids.join(' ')}`, { stdio: 'ignore' });
    }
  } catch (error) {
    console.warn(
      'remoteapp ui-tests: could not remove the test containers',
      error
    );
  }
  // The image startupdata.spec.ts builds (it removes it itself unless aborted).
  try {
    execSync('docker rmi -f remoteapp-uitest/startupdata:latest', {
      stdio: 'ignore'
    });
  } catch {
    // not there
  }
};

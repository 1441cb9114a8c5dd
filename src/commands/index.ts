/**
 * The commands of the extension, by concern: starting (./start), the app
 * tabs and browser tabs (./tabs), acting on containers (./containers).
 */
import { addContainerCommands } from './containers';
import { ICommandsContext } from './context';
import { addStartCommand } from './start';
import { addTabCommands, AppTabs } from './tabs';

export { DEFAULT_CONFIG, ICommandsContext, IRemoteAppConfig } from './context';
export { hasChoices, mainAreaResolution } from './start';
export { AppTabs, isolationWarning } from './tabs';

/**
 * Register the commands; they live as long as the app. Returns the tabs.
 */
export function addCommands(context: ICommandsContext): AppTabs {
  const tabs = new AppTabs(context);
  addStartCommand(context, tabs);
  addTabCommands(context, tabs);
  addContainerCommands(context, tabs);
  return tabs;
}

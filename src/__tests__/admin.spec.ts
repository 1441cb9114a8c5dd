/**
 * Unit tests of the admin lists: the paging helpers, the query strings of the
 * admin API calls, the grant filter, the start dialog's checks, and the admin
 * panel itself against an in-memory server (jsdom).
 */
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { RemoteAppsRestClient, withQuery } from '../api';
import { hasChoices } from '../commands';
import {
  ADMIN_PAGE_SIZE,
  lastPageOffset,
  neighbourPages,
  offsetAfterLoad,
  pageSummary
} from '../paging';
import { age } from '../policy';
import { IApplicationEntry, IPolicy, IRemoteApps } from '../tokens';
import {
  grantSelectors,
  RemoteAppsAdminPanel,
  validateGrant
} from '../widgets/admin';
import { validateStartupData } from '../widgets/startdialog';

const trans = nullTranslator.load('remoteapp');
const BASE_URL = 'http://localhost:8888/';

describe('paging', () => {
  it('finds the last page', () => {
    expect(lastPageOffset(0, 50)).toBe(0);
    expect(lastPageOffset(1, 50)).toBe(0);
    expect(lastPageOffset(50, 50)).toBe(0);
    expect(lastPageOffset(51, 50)).toBe(50);
    expect(lastPageOffset(10000, 50)).toBe(9950);
  });

  it('stays on a page with items, goes back one from an empty page', () => {
    expect(offsetAfterLoad(50, 20, 70, 50)).toBe(50);
    expect(offsetAfterLoad(0, 0, 0, 50)).toBe(0);
    // The last item of the third page was removed: back to the second.
    expect(offsetAfterLoad(100, 0, 100, 50)).toBe(50);
    // Many were removed elsewhere: the last page that has items.
    expect(offsetAfterLoad(500, 0, 120, 50)).toBe(100);
    expect(offsetAfterLoad(50, 0, 0, 50)).toBe(0);
  });

  it('knows the neighbour pages', () => {
    expect(neighbourPages(0, 120, 50)).toEqual({ previous: null, next: 50 });
    expect(neighbourPages(50, 120, 50)).toEqual({ previous: 0, next: 100 });
    expect(neighbourPages(100, 120, 50)).toEqual({ previous: 50, next: null });
    expect(neighbourPages(0, 50, 50)).toEqual({ previous: null, next: null });
  });

  it('describes a page', () => {
    expect(pageSummary(0, 50, 10000, trans)).toBe('Showing 1–50 of 10,000');
    expect(pageSummary(100, 20, 120, trans)).toBe('Showing 101–120 of 120');
    expect(pageSummary(0, 0, 0, trans)).toBe('Showing 0 of 0');
  });
});

describe('admin API queries', () => {
  it('leaves out empty parameters', () => {
    expect(withQuery('admin/users', {})).toBe('admin/users');
    expect(withQuery('admin/users', { offset: 0, limit: 50 })).toBe(
      'admin/users?offset=0&limit=50'
    );
    expect(
      withQuery('admin/grants', { user: '', image: undefined, group: null })
    ).toBe('admin/grants');
    expect(withQuery('admin/grants', { user: 'a b&c' })).toBe(
      'admin/grants?user=a+b%26c'
    );
  });

  it('sends the page and the grant filter', async () => {
    const urls: string[] = [];
    const api = new RemoteAppsRestClient(
      ServerConnection.makeSettings({
        baseUrl: BASE_URL,
        fetch: async (input: RequestInfo | URL) => {
          urls.push((input as Request).url);
          return new Response(
            JSON.stringify({ items: [], total: 0, offset: 0, limit: 50 }),
            { status: 200 }
          );
        }
      })
    );
    await api.users({ offset: 100, limit: 50 });
    await api.grants({ offset: 0, limit: 50, user: 'alice', image: '' });
    await api.adminApplications();
    const search = urls.map(url => new URL(url).searchParams);
    expect(urls[0]).toContain('/remoteapp/api/admin/users?');
    expect(search[0].get('offset')).toBe('100');
    expect(search[0].get('limit')).toBe('50');
    expect(urls[1]).toContain('/remoteapp/api/admin/grants?');
    expect(search[1].get('user')).toBe('alice');
    expect(search[1].has('image')).toBe(false);
    expect(search[2].has('limit')).toBe(false);
  });
});

describe('the grant filter and form', () => {
  it('turns the filter form into selectors', () => {
    expect(grantSelectors({ image: '', kind: 'user', name: '  ' })).toEqual({});
    expect(
      grantSelectors({ image: 'img:1', kind: 'user', name: ' bob ' })
    ).toEqual({ image: 'img:1', user: 'bob' });
    expect(grantSelectors({ image: '', kind: 'group', name: 'staff' })).toEqual(
      {
        group: 'staff'
      }
    );
  });

  it('checks the grant form', () => {
    expect(validateGrant({ image: '', user: 'a' }, trans)).toBe(
      'Choose an application.'
    );
    expect(validateGrant({ image: 'i', user: ' ' }, trans)).toBe(
      'Enter a user name.'
    );
    expect(validateGrant({ image: 'i', group: '' }, trans)).toBe(
      'Enter a group name.'
    );
    expect(
      validateGrant(
        { image: 'i', user: 'a', policy: { volume: 'nonsense' } },
        trans
      )
    ).toContain('SOURCE:TARGET');
    expect(
      validateGrant(
        { image: 'i', user: 'a', policy: { volume: '/srv:/data:ro' } },
        trans
      )
    ).toBe('');
  });
});

describe('the start dialog', () => {
  it('checks startup data like the server', () => {
    expect(validateStartupData('', trans)).toBe('');
    expect(validateStartupData('data/in.csv', trans)).toBe('');
    expect(validateStartupData('/etc/passwd', trans)).toContain('relative');
    expect(validateStartupData('a/../../x', trans)).toContain('relative');
    expect(validateStartupData('a\nb', trans)).toContain('control');
    expect(validateStartupData('x'.repeat(4097), trans)).toContain('too long');
  });

  const policy: IPolicy = {
    allow_home: false,
    allow_view: false,
    allow_common: false,
    volume_source: '',
    volume_target: '',
    volume_mode: '',
    app_license: '',
    allow_startup_data: false
  };
  const entry = (
    tags: string[],
    allowStartupData: boolean
  ): IApplicationEntry => ({
    mapping_id: 'm',
    image: {
      name: 'i',
      ui_name: 'I',
      description: '',
      icon_128: '',
      type: 'webapp',
      configurables: tags.map(tag => ({ tag, default: '' }))
    },
    policy: { ...policy, allow_startup_data: allowStartupData },
    containers: [],
    starting: null
  });

  it('asks only when there is something to choose', () => {
    expect(hasChoices(entry([], true))).toBe(false);
    expect(hasChoices(entry(['resolution'], false))).toBe(true);
    expect(hasChoices(entry(['startupdata'], true))).toBe(true);
    // The policy forbids startup data: the dialog would be empty.
    expect(hasChoices(entry(['startupdata'], false))).toBe(false);
  });
});

describe('age', () => {
  it('says how long ago, through the translator', () => {
    const now = Date.parse('2024-01-03T00:00:00Z');
    expect(age('2024-01-02T23:59:30Z', trans, now)).toBe('30 s');
    expect(age('2024-01-02T23:55:00Z', trans, now)).toBe('5 min');
    expect(age('2024-01-02T21:30:00Z', trans, now)).toBe('2 h 30 min');
    expect(age('2023-12-30T00:00:00Z', trans, now)).toBe('4 d');
    expect(age('nonsense', trans, now)).toBe('');
  });
});

/**
 * An in-memory admin API: users `user-000`…, one grant per user of one image.
 */
class FakeServer {
  users: string[] = [];
  grants: { mapping_id: string; image: string; user: string }[] = [];
  requests: URL[] = [];

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const name = `user-${String(i).padStart(3, '0')}`;
      this.users.push(name);
      this.grants.push({ mapping_id: `m${i}`, image: 'img:1', user: name });
    }
  }

  fetch = async (input: RequestInfo | URL): Promise<Response> => {
    const request = input as Request;
    const url = new URL(request.url);
    this.requests.push(url);
    const path = url.pathname.replace(/^\/remoteapp\/api\//, '');
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 1e9);
    const page = (items: unknown[]) =>
      json({
        items: items.slice(offset, offset + limit),
        total: items.length,
        offset,
        limit
      });
    if (request.method === 'DELETE' && path.startsWith('admin/users/')) {
      const name = decodeURIComponent(path.slice('admin/users/'.length));
      this.users = this.users.filter(user => user !== name);
      this.grants = this.grants.filter(grant => grant.user !== name);
      return new Response(null, { status: 204 });
    }
    switch (path) {
      case 'admin/users':
        return page(
          this.users.map(name => ({
            name,
            grants: this.grants.filter(g => g.user === name).length
          }))
        );
      case 'admin/grants': {
        const user = url.searchParams.get('user');
        return page(
          this.grants
            .filter(g => user === null || g.user === user)
            .map(g => ({ ...g, group: null, policy: {} }))
        );
      }
      case 'admin/stats':
        return json({
          users: this.users.length,
          applications: 0,
          grants: this.grants.length,
          containers: { total: 0, running: 0, users: 0, per_image: {} }
        });
      default:
        return page([]);
    }
  };
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** Wait until `check` passes (or fail after 10 s: the machine may be busy). */
async function waitFor(check: () => void): Promise<void> {
  const end = Date.now() + 10000;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > end) {
        throw error;
      }
      await new Promise(resolve => setTimeout(resolve, 5));
    }
  }
}

describe('RemoteAppsAdminPanel', () => {
  let panel: RemoteAppsAdminPanel | null = null;

  afterEach(() => {
    panel?.dispose();
    panel = null;
  });

  function open(server: FakeServer): HTMLElement {
    const api = new RemoteAppsRestClient(
      ServerConnection.makeSettings({ baseUrl: BASE_URL, fetch: server.fetch })
    );
    const model = {
      me: { name: 'root' },
      changed: new Signal<unknown, void>({}),
      refresh: async () => undefined
    } as unknown as IRemoteApps;
    panel = new RemoteAppsAdminPanel({
      api,
      model,
      trans,
      commands: new CommandRegistry()
    });
    Widget.attach(panel, document.body);
    return panel.node;
  }

  const section = (node: HTMLElement, name: string) =>
    node.querySelector(`.jp-RemoteApp-${name}`) as HTMLElement;
  const summary = (node: HTMLElement, name: string) =>
    section(node, name).querySelector('.jp-RemoteApp-pageSummary')?.textContent;
  const button = (node: HTMLElement, label: string) =>
    node.querySelector(`button[aria-label^="${label}"]`) as HTMLButtonElement;

  it('pages the users 50 at a time', async () => {
    const server = new FakeServer(120);
    const node = open(server);
    await waitFor(() =>
      expect(summary(node, 'users')).toBe('Showing 1–50 of 120')
    );
    const users = section(node, 'users');
    expect(users.querySelectorAll('.jp-RemoteApp-item')).toHaveLength(
      ADMIN_PAGE_SIZE
    );
    expect(users.querySelector('.jp-RemoteApp-count')?.textContent).toBe('120');
    // Only pages were asked for, never everything.
    const userRequests = server.requests.filter(
      url =>
        url.pathname.endsWith('/admin/users') && !url.searchParams.has('limit')
    );
    expect(userRequests).toHaveLength(0);

    expect(button(users, 'Previous page').disabled).toBe(true);
    button(users, 'Next page').click();
    await waitFor(() =>
      expect(summary(node, 'users')).toBe('Showing 51–100 of 120')
    );
    button(users, 'Next page').click();
    await waitFor(() =>
      expect(summary(node, 'users')).toBe('Showing 101–120 of 120')
    );
    expect(button(users, 'Next page').disabled).toBe(true);
    expect(users.querySelector('.jp-RemoteApp-itemName')?.textContent).toBe(
      'user-100'
    );
  });

  it('goes back one page when the last page becomes empty', async () => {
    const server = new FakeServer(51);
    const node = open(server);
    const users = () => section(node, 'users');
    await waitFor(() =>
      expect(summary(node, 'users')).toBe('Showing 1–50 of 51')
    );
    button(users(), 'Next page').click();
    await waitFor(() =>
      expect(summary(node, 'users')).toBe('Showing 51–51 of 51')
    );
    // Another admin removes that user; a refresh shows the page before.
    server.users.pop();
    (
      node.querySelector('.jp-RemoteApp-header button') as HTMLButtonElement
    ).click();
    await waitFor(() =>
      expect(summary(node, 'users')).toBe('Showing 1–50 of 50')
    );
  });

  it('filters the grants by user after the typing stops', async () => {
    const server = new FakeServer(60);
    const node = open(server);
    await waitFor(() =>
      expect(summary(node, 'grants')).toBe('Showing 1–50 of 60')
    );
    // The grant count of a user shows that user's grants.
    const link = node.querySelector(
      'button[aria-label="Show the grants of user-007"]'
    ) as HTMLButtonElement;
    link.click();
    await waitFor(() =>
      expect(summary(node, 'grants')).toBe('Showing 1–1 of 1')
    );
    const filtered = server.requests.filter(
      url => url.searchParams.get('user') === 'user-007'
    );
    expect(filtered.length).toBeGreaterThan(0);
    expect(
      section(node, 'grants').querySelector('.jp-RemoteApp-itemDetail')
        ?.textContent
    ).toContain('user user-007');

    // Typing: only the name the typing stopped at is asked for.
    const input = node.querySelector(
      'input[aria-label="Filter grants by exact name"]'
    ) as HTMLInputElement;
    const setValue = Object.getOwnPropertyDescriptor(
      HTMLInputElement.prototype,
      'value'
    )!.set!;
    for (const text of ['user-04', 'user-042']) {
      setValue.call(input, text);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }
    await waitFor(() =>
      expect(
        section(node, 'grants').querySelector('.jp-RemoteApp-itemDetail')
          ?.textContent
      ).toContain('user user-042')
    );
    const asked = server.requests.map(url => url.searchParams.get('user'));
    expect(asked).toContain('user-042');
    expect(asked).not.toContain('user-04');
  });
});

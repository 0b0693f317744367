import type { DataSource, Repository } from 'typeorm';
import { type Cache, Cacheable } from '../../src';
import { Order, User } from '../entities';
import type { LoaderCalls } from './loader_calls';

/** A customer's profile page. */
export interface UserProfile {
  id: number;
  name: string;
  email: string;
  orders: number;
}

/** Customer profiles, cached for an hour; placing an order (a write to orders) refreshes them. */
export class UserService {
  private readonly users: Repository<User>;
  private readonly orders: Repository<Order>;

  constructor(
    readonly cache: Cache,
    ds: DataSource,
    private readonly counter: LoaderCalls,
  ) {
    this.users = ds.getRepository(User);
    this.orders = ds.getRepository(Order);
  }

  /** The profile with the number of orders; `null` for an unknown id. */
  @Cacheable({ policy: 'user_profile', key: (id: number) => ['user', id] })
  async profile(id: number): Promise<UserProfile | null> {
    this.counter.loaded('profile');
    const u = await this.users.findOneBy({ id });
    if (!u) return null;
    return { id: u.id, name: u.name, email: u.email, orders: await this.orders.countBy({ userId: id }) };
  }
}

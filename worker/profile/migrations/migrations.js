import journal from './meta/_journal.json';
import m0000 from './0000_legacy.sql';
import m0001 from './0001_outbox.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001
    }
  }
  
//! Versions of a stage's spec: the port ([`SpecStore`], DynamoDB in `o2c_aws::specs`) and the
//! registry a function keeps ([`Specs`]): the active version compiled at cold start, pinned
//! versions compiled on first use and kept (a version never changes once stored).
//!
//! A version is stored only after validation, and activated by moving one pointer with a
//! condition on where it pointed, so two operators racing cannot lose a change; every
//! activation is audited (who, when, from which version).

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Problems, Spec};

/// One stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// `v1`, `v2`, … in the order they were pushed.
    pub id: String,
    /// The document as JSON (what `crate::from_json` reads).
    pub document: String,
    /// The document's hash (`Spec::hash`).
    pub hash: String,
    /// The author's label (`version:` in the document).
    pub label: String,
    pub created_at: String,
    pub created_by: String,
}

/// Where the stage's active pointer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    pub version: String,
    pub activated_at: String,
    pub activated_by: String,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub by: String,
    /// `push`, `activate`, `promote`, `rollback`.
    pub action: String,
    pub version: String,
    /// The version active before (for activations).
    pub from: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("spec store unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the active version moved to {actual:?} meanwhile (expected {expected:?}); nothing changed"
    )]
    Conflict {
        expected: Option<String>,
        actual: Option<String>,
    },
    #[error("no version {0}")]
    NotFound(String),
}

#[async_trait]
pub trait SpecStore: Send + Sync {
    /// The active pointer, if any version was ever activated.
    async fn active(&self) -> Result<Option<Active>, StoreError>;
    async fn version(&self, id: &str) -> Result<Option<StoredVersion>, StoreError>;
    /// Every version, oldest first (without documents is fine for listing; these carry them).
    async fn versions(&self) -> Result<Vec<StoredVersion>, StoreError>;
    /// Store a new version (the next `vN`); returns it. Never overwrites.
    async fn put_version(
        &self,
        document: &str,
        hash: &str,
        label: &str,
        by: &str,
        at: &str,
    ) -> Result<StoredVersion, StoreError>;
    /// Point the stage at `id` if it still points at `expected` (`None`: nothing active yet),
    /// and append `audit`.
    async fn activate(
        &self,
        id: &str,
        expected: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The audit trail, oldest first.
    async fn history(&self) -> Result<Vec<AuditEntry>, StoreError>;
}

/// What loading the active version at cold start found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// No version stored: the bundled spec.
    Bundled,
    /// The active version.
    Active(String),
    /// The active version is invalid (problems): this older one, the newest valid, serves.
    FellBack {
        active: String,
        serving: String,
        problems: String,
    },
}

/// The versions a function uses.
pub struct Specs {
    store: Option<Arc<dyn SpecStore>>,
    /// How often [`Specs::current`] looks at the active pointer again.
    refresh: Duration,
    active: Mutex<(Arc<Spec>, Instant)>,
    cache: Mutex<HashMap<String, Arc<Spec>>>,
}

impl std::fmt::Debug for Specs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Specs")
            .field("active", &self.active.lock().expect("active").0.version)
            .finish_non_exhaustive()
    }
}

fn compile(v: &StoredVersion) -> Result<Spec, Problems> {
    crate::load_stored(&v.document, &v.id, &v.hash)
}

/// The active version, or the newest valid one before it when it is invalid.
async fn resolve(
    store: &dyn SpecStore,
    active: &str,
) -> Result<(Arc<Spec>, LoadOutcome), StoreError> {
    let stored = store
        .version(active)
        .await?
        .ok_or_else(|| StoreError::NotFound(active.to_string()))?;
    match compile(&stored) {
        Ok(spec) => Ok((Arc::new(spec), LoadOutcome::Active(active.to_string()))),
        Err(problems) => {
            let mut older = store.versions().await?;
            older.retain(|v| version_number(&v.id) < version_number(active));
            older.sort_by_key(|v| std::cmp::Reverse(version_number(&v.id)));
            let fallback = older
                .iter()
                .find_map(|v| compile(v).ok())
                .map(Arc::new)
                .unwrap_or_else(crate::bundled);
            let serving = fallback.version.clone();
            Ok((
                fallback,
                LoadOutcome::FellBack {
                    active: active.to_string(),
                    serving,
                    problems: problems.to_string(),
                },
            ))
        }
    }
}

impl Specs {
    /// The bundled spec only (tests, tools without a table).
    pub fn bundled() -> Self {
        Self::with_active(crate::bundled(), None, Duration::MAX)
    }

    pub fn with_active(
        active: Arc<Spec>,
        store: Option<Arc<dyn SpecStore>>,
        refresh: Duration,
    ) -> Self {
        // The bundled spec is compiled only when an order pinned to it needs it (`pinned`), not
        // at cold start when a stored version is active.
        let mut cache = HashMap::new();
        cache.insert(active.version.clone(), active.clone());
        Self {
            store,
            refresh,
            active: Mutex::new((active, Instant::now())),
            cache: Mutex::new(cache),
        }
    }

    /// Cold start: the active version, or the newest valid older one when it is invalid, or
    /// the bundled spec when none is stored. Errors only when the store cannot be read.
    /// [`Specs::current`] looks again every `refresh`.
    pub async fn load(
        store: Arc<dyn SpecStore>,
        refresh: Duration,
    ) -> Result<(Self, LoadOutcome), StoreError> {
        let (spec, outcome) = match store.active().await? {
            None => (crate::bundled(), LoadOutcome::Bundled),
            Some(active) => resolve(&*store, &active.version).await?,
        };
        Ok((Self::with_active(spec, Some(store), refresh), outcome))
    }

    /// The version new orders pin, as of the last look at the active pointer.
    pub fn active(&self) -> Arc<Spec> {
        self.active.lock().expect("active").0.clone()
    }

    /// The version new orders pin now: looks at the active pointer again when the last look
    /// is older than the refresh interval. The outcome is `Some` when the version served
    /// changed (or fell back): callers log and count it.
    pub async fn current(&self) -> Result<(Arc<Spec>, Option<LoadOutcome>), StoreError> {
        let (spec, checked) = self.active.lock().expect("active").clone();
        let Some(store) = &self.store else {
            return Ok((spec, None));
        };
        if checked.elapsed() < self.refresh {
            return Ok((spec, None));
        }
        let pointer = store.active().await?;
        let wanted = pointer
            .as_ref()
            .map(|a| a.version.as_str())
            .unwrap_or(crate::BUNDLED);
        let unchanged = {
            let mut guard = self.active.lock().expect("active");
            let same = wanted == guard.0.version;
            if same {
                guard.1 = Instant::now();
            }
            same.then(|| guard.0.clone())
        };
        if let Some(spec) = unchanged {
            return Ok((spec, None));
        }
        let (next, outcome) = match pointer {
            None => (crate::bundled(), LoadOutcome::Bundled),
            Some(a) => resolve(&**store, &a.version).await?,
        };
        let changed = next.version != spec.version;
        *self.active.lock().expect("active") = (next.clone(), Instant::now());
        self.cache
            .lock()
            .expect("spec cache")
            .insert(next.version.clone(), next.clone());
        Ok((
            next,
            (changed || matches!(outcome, LoadOutcome::FellBack { .. })).then_some(outcome),
        ))
    }

    /// The version an order pinned (`None`: from before the spec, the bundled one).
    pub async fn pinned(&self, version: Option<&str>) -> Result<Arc<Spec>, StoreError> {
        let id = version.unwrap_or(crate::BUNDLED);
        if let Some(s) = self.cache.lock().expect("spec cache").get(id) {
            return Ok(s.clone());
        }
        if id == crate::BUNDLED {
            return Ok(crate::bundled());
        }
        let store = self
            .store
            .as_ref()
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let stored = store
            .version(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        // A stored version was valid when pushed; one that no longer compiles (a build that
        // dropped something it used) is a configuration failure, reported as such.
        let spec = Arc::new(compile(&stored).map_err(|p| {
            StoreError::Unavailable(format!("version {id} no longer compiles: {p}"))
        })?);
        self.cache
            .lock()
            .expect("spec cache")
            .insert(id.to_string(), spec.clone());
        Ok(spec)
    }
}

/// `v12` → 12 (anything else sorts first).
pub fn version_number(id: &str) -> u64 {
    id.strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A store in memory, for tests and the preview of tools.
#[derive(Default)]
pub struct MemorySpecStore {
    inner: Mutex<(Vec<StoredVersion>, Option<Active>, Vec<AuditEntry>)>,
}

#[async_trait]
impl SpecStore for MemorySpecStore {
    async fn active(&self) -> Result<Option<Active>, StoreError> {
        Ok(self.inner.lock().expect("store").1.clone())
    }
    async fn version(&self, id: &str) -> Result<Option<StoredVersion>, StoreError> {
        Ok(self
            .inner
            .lock()
            .expect("store")
            .0
            .iter()
            .find(|v| v.id == id)
            .cloned())
    }
    async fn versions(&self) -> Result<Vec<StoredVersion>, StoreError> {
        Ok(self.inner.lock().expect("store").0.clone())
    }
    async fn put_version(
        &self,
        document: &str,
        hash: &str,
        label: &str,
        by: &str,
        at: &str,
    ) -> Result<StoredVersion, StoreError> {
        let mut g = self.inner.lock().expect("store");
        let v = StoredVersion {
            id: format!("v{}", g.0.len() + 1),
            document: document.into(),
            hash: hash.into(),
            label: label.into(),
            created_at: at.into(),
            created_by: by.into(),
        };
        g.0.push(v.clone());
        Ok(v)
    }
    async fn activate(
        &self,
        id: &str,
        expected: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut g = self.inner.lock().expect("store");
        let actual = g.1.as_ref().map(|a| a.version.clone());
        if actual.as_deref() != expected {
            return Err(StoreError::Conflict {
                expected: expected.map(str::to_owned),
                actual,
            });
        }
        if !g.0.iter().any(|v| v.id == id) {
            return Err(StoreError::NotFound(id.into()));
        }
        g.1 = Some(Active {
            version: id.into(),
            activated_at: audit.at.clone(),
            activated_by: audit.by.clone(),
        });
        g.2.push(audit.clone());
        Ok(())
    }
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.inner.lock().expect("store").2.push(entry.clone());
        Ok(())
    }
    async fn history(&self) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.inner.lock().expect("store").2.clone())
    }
}
